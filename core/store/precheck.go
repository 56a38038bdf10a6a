package store

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's on-disk layout (stable since bbolt file version 2), read here with
// plain file reads so that Open can reject a truncated or damaged file before
// bbolt maps it into memory. bbolt trusts its meta page: a file cut short
// after its last commit faults on first access, and a garbage freelist count
// can make it allocate without bound, which no recover catches.
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16 // id u64, flags u16, count u16, overflow u32
	metaSize         = 64 // magic, version, pageSize, flags u32; root, sequence, freelist, pgid, txid, checksum u64
	metaSumLen       = 56 // the checksum covers the meta up to itself
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	freelistPageFlag = 0x10
	noFreelist       = ^uint64(0)
	minPageSize      = 512
	maxPageSize      = 1 << 24
)

type boltMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // high-water mark: pages 0..pgid-1 are in use or free
	txid     uint64
}

// readMeta reads and validates (magic, version, checksum) the meta page at
// byte offset off.
func readMeta(f io.ReaderAt, off int64) (boltMeta, bool) {
	var buf [pageHeaderSize + metaSize]byte
	if _, err := f.ReadAt(buf[:], off); err != nil {
		return boltMeta{}, false
	}
	m := buf[pageHeaderSize:]
	ne := binary.NativeEndian
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:metaSumLen])
	if h.Sum64() != ne.Uint64(m[56:]) {
		return boltMeta{}, false
	}
	return boltMeta{
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}, true
}

// precheck validates the meta page bbolt will use, the root page header and
// the freelist of an existing file. It returns nil when no meta page is
// valid at all (bbolt's own Open then reports that) and a descriptive error
// for anything that would make bbolt read outside the file or misbehave.
func precheck(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size == 0 {
		return nil // a new file
	}
	// Find the meta pages the way bbolt does: meta 0 at offset 0 gives the
	// page size; if it is damaged, probe for meta 1 at 1 KiB .. 16 MiB.
	m0, ok0 := readMeta(f, 0)
	var m1 boltMeta
	var ok1 bool
	if ok0 {
		if m0.pageSize >= minPageSize && m0.pageSize <= maxPageSize {
			m1, ok1 = readMeta(f, int64(m0.pageSize))
		}
	} else {
		for i := 0; i <= 14; i++ {
			pos := int64(1024) << i
			if pos >= size-1024 {
				break
			}
			if m, ok := readMeta(f, pos); ok {
				m1, ok1 = m, ok && int64(m.pageSize) == pos
				break
			}
		}
	}
	var m boltMeta
	switch {
	case ok0 && ok1:
		m = m0
		if m1.txid > m0.txid {
			m = m1
		}
	case ok0:
		m = m0
	case ok1:
		m = m1
	default:
		return nil // bbolt reports an invalid file
	}

	ps := uint64(m.pageSize)
	if ps < minPageSize || ps > maxPageSize || ps&(ps-1) != 0 {
		return fmt.Errorf("meta page (txid %d) gives an implausible page size %d", m.txid, ps)
	}
	if m.pgid < 3 {
		return fmt.Errorf("meta page (txid %d) gives %d pages, fewer than any database has", m.txid, m.pgid)
	}
	if filePages := uint64(size) / ps; filePages < m.pgid {
		return fmt.Errorf("file is %d bytes but its last commit (txid %d) uses %d pages of %d bytes: the file is truncated",
			size, m.txid, m.pgid, ps)
	}
	if m.root < 2 || m.root >= m.pgid {
		return fmt.Errorf("root page %d outside 2..%d", m.root, m.pgid-1)
	}
	id, flags, _, _, err := readPageHeader(f, m.root, ps)
	if err != nil {
		return err
	}
	if id != m.root || (flags != branchPageFlag && flags != leafPageFlag) {
		return fmt.Errorf("root page %d has header id %d flags %#x", m.root, id, flags)
	}
	if m.freelist == noFreelist {
		return nil
	}
	return checkFreelist(f, m, ps)
}

func readPageHeader(f io.ReaderAt, id, ps uint64) (pid uint64, flags, count uint16, overflow uint32, err error) {
	var h [pageHeaderSize]byte
	if _, err := f.ReadAt(h[:], int64(id*ps)); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("read page %d: %w", id, err)
	}
	ne := binary.NativeEndian
	return ne.Uint64(h[0:]), ne.Uint16(h[8:]), ne.Uint16(h[10:]), ne.Uint32(h[12:]), nil
}

// checkFreelist checks that the freelist page lies inside the used pages and
// holds a count of ids that fits in it, each id a valid page number.
func checkFreelist(f io.ReaderAt, m boltMeta, ps uint64) error {
	fl := m.freelist
	if fl < 2 || fl >= m.pgid {
		return fmt.Errorf("freelist page %d outside 2..%d", fl, m.pgid-1)
	}
	id, flags, count16, overflow, err := readPageHeader(f, fl, ps)
	if err != nil {
		return err
	}
	if id != fl || flags != freelistPageFlag {
		return fmt.Errorf("freelist page %d has header id %d flags %#x", fl, id, flags)
	}
	if uint64(overflow) >= m.pgid-fl {
		return fmt.Errorf("freelist page %d overflows %d pages past the last page %d", fl, overflow, m.pgid-1)
	}
	span := (uint64(overflow) + 1) * ps // bytes the freelist occupies; ≤ file size, checked above
	room := (span - pageHeaderSize) / 8 // ids that fit
	count, skip := uint64(count16), uint64(0)
	if count16 == 0xFFFF {
		var b [8]byte
		if _, err := f.ReadAt(b[:], int64(fl*ps+pageHeaderSize)); err != nil {
			return fmt.Errorf("read freelist page %d: %w", fl, err)
		}
		count, skip = binary.NativeEndian.Uint64(b[:]), 1
	}
	if count > room-skip {
		return fmt.Errorf("freelist page %d claims %d free pages but has room for %d", fl, count, room-skip)
	}
	buf := make([]byte, count*8)
	if _, err := f.ReadAt(buf, int64(fl*ps+pageHeaderSize+skip*8)); err != nil {
		return fmt.Errorf("read freelist page %d: %w", fl, err)
	}
	for i := uint64(0); i < count; i++ {
		if p := binary.NativeEndian.Uint64(buf[i*8:]); p < 2 || p >= m.pgid {
			return fmt.Errorf("freelist page %d lists page %d, outside 2..%d", fl, p, m.pgid-1)
		}
	}
	return nil
}
