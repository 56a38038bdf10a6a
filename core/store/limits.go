package store

import "fmt"

// Limits on plugin namespace data. They bound the memory one request can make
// the host hold and keep a single plugin from monopolising the writer.
const (
	// MaxNameLen is the longest namespace name.
	MaxNameLen = 64
	// MaxKeySize is the longest key (keys are at least 1 byte). It also
	// bounds scan prefixes and start keys.
	MaxKeySize = 1024
	// MaxValueSize is the longest value (values may be empty).
	MaxValueSize = 4 << 20
	// MaxBatchOps is the most operations in one Batch.
	MaxBatchOps = 10_000
	// MaxBatchBytes bounds the sum of key and value lengths in one Batch.
	MaxBatchBytes = 64 << 20
	// MaxScanLimit is the largest page a Scan may ask for.
	MaxScanLimit = 10_000
	// MaxScanBytes bounds the key and value bytes of one Scan page; a page
	// stops early (with more=true) rather than exceed it, but always holds
	// at least one pair when one is left.
	MaxScanBytes = 16 << 20
)

// OpKind is the kind of a batch operation.
type OpKind uint8

const (
	// OpPut sets Key to Value.
	OpPut OpKind = 1
	// OpDelete removes Key (absent keys are not an error); Value must be empty.
	OpDelete OpKind = 2
)

func (k OpKind) String() string {
	switch k {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Op is one operation of a Batch.
type Op struct {
	Kind  OpKind
	Key   []byte
	Value []byte // for OpPut; must be empty for OpDelete
}

// PutOp returns an Op that sets key to value.
func PutOp(key, value []byte) Op { return Op{Kind: OpPut, Key: key, Value: value} }

// DeleteOp returns an Op that deletes key.
func DeleteOp(key []byte) Op { return Op{Kind: OpDelete, Key: key} }

// KV is a key and its value, as returned by Scan. Both are private copies.
type KV struct {
	Key   []byte
	Value []byte
}

// ValidateName checks a namespace name: 1..MaxNameLen characters from
// [a-z0-9._-], starting with a letter or digit (so that a name is also safe
// as a file name, never "." or "..").
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("store: namespace name is empty: %w", ErrInvalidName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("store: namespace name %.16q… is %d bytes, max %d: %w", name, len(name), MaxNameLen, ErrInvalidName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if i == 0 && !alnum {
			return fmt.Errorf("store: namespace name %q must start with [a-z0-9]: %w", name, ErrInvalidName)
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("store: namespace name %q has byte %q at %d, allowed [a-z0-9._-]: %w", name, c, i, ErrInvalidName)
		}
	}
	return nil
}

func checkKey(k []byte, what string, index int) error {
	if len(k) < 1 || len(k) > MaxKeySize {
		return &LimitError{Err: ErrInvalidKey, What: what, Index: index, Size: len(k), Min: 1, Max: MaxKeySize}
	}
	return nil
}

func checkValue(v []byte, index int) error {
	if len(v) > MaxValueSize {
		return &LimitError{Err: ErrValueTooLarge, What: "value", Index: index, Size: len(v), Min: 0, Max: MaxValueSize}
	}
	return nil
}

// ValidateBatch checks every op of a batch against the limits without
// touching the database. Batch calls it before writing anything.
func ValidateBatch(ops []Op) error {
	if len(ops) > MaxBatchOps {
		return &LimitError{Err: ErrBatchTooLarge, What: "batch ops", Index: -1, Size: len(ops), Min: 0, Max: MaxBatchOps}
	}
	total := 0
	for i, op := range ops {
		if err := checkKey(op.Key, "key", i); err != nil {
			return err
		}
		switch op.Kind {
		case OpPut:
			if err := checkValue(op.Value, i); err != nil {
				return err
			}
		case OpDelete:
			if len(op.Value) != 0 {
				return &LimitError{Err: ErrInvalidOp, What: "delete value", Index: i, Size: len(op.Value)}
			}
		default:
			return &LimitError{Err: ErrInvalidOp, What: "op kind", Index: i, Size: int(op.Kind)}
		}
		// Each term is bounded by the checks above, so this cannot overflow.
		total += len(op.Key) + len(op.Value)
		if total > MaxBatchBytes {
			return &LimitError{Err: ErrBatchTooLarge, What: "batch bytes", Index: i, Size: total, Min: 0, Max: MaxBatchBytes}
		}
	}
	return nil
}

func checkScan(prefix, startAfter []byte, limit int) error {
	if len(prefix) > MaxKeySize {
		return &LimitError{Err: ErrInvalidKey, What: "scan prefix", Index: -1, Size: len(prefix), Min: 0, Max: MaxKeySize}
	}
	if len(startAfter) > MaxKeySize {
		return &LimitError{Err: ErrInvalidKey, What: "scan start", Index: -1, Size: len(startAfter), Min: 0, Max: MaxKeySize}
	}
	if limit < 1 || limit > MaxScanLimit {
		return &LimitError{Err: ErrInvalidLimit, What: "scan limit", Index: -1, Size: limit, Min: 1, Max: MaxScanLimit}
	}
	return nil
}
