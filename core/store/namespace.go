package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Namespace is one plugin's private key-value space: a bucket nested under
// the plugins bucket. It cannot reach any key outside itself. Keys are
// ordered bytewise. Every write is one fsynced transaction; returned slices
// are copies the caller owns. A Namespace is safe for concurrent use.
type Namespace struct {
	db   *DB
	name string
	key  []byte // the nested bucket's name
}

// Namespace returns the namespace called name, creating its bucket if it
// does not exist (on a read-only DB it must exist: ErrNoNamespace). The name
// is checked by ValidateName.
func (db *DB) Namespace(name string) (*Namespace, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	ns := &Namespace{db: db, name: name, key: []byte(name)}
	exists := false
	err := db.view("namespace", func(tx *bolt.Tx) error {
		exists = tx.Bucket([]byte(BucketPlugins)).Bucket(ns.key) != nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	if exists {
		return ns, nil
	}
	if db.readOnly {
		return nil, fmt.Errorf("store: namespace %q: %w", name, ErrNoNamespace)
	}
	err = db.update("namespace", func(tx *bolt.Tx) error {
		_, err := tx.Bucket([]byte(BucketPlugins)).CreateBucketIfNotExists(ns.key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: create namespace %q: %w", name, err)
	}
	return ns, nil
}

// Namespaces lists the existing namespaces in name order.
func (db *DB) Namespaces() ([]string, error) {
	var names []string
	err := db.view("namespaces", func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(BucketPlugins)).ForEachBucket(func(k []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	return names, err
}

// DeleteNamespace removes a namespace and all its keys. Handles to it then
// fail with ErrNoNamespace until Namespace creates it again.
func (db *DB) DeleteNamespace(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	return db.update("delete namespace", func(tx *bolt.Tx) error {
		plugins := tx.Bucket([]byte(BucketPlugins))
		if plugins.Bucket([]byte(name)) == nil {
			return fmt.Errorf("store: delete namespace %q: %w", name, ErrNoNamespace)
		}
		if err := plugins.DeleteBucket([]byte(name)); err != nil {
			return fmt.Errorf("store: delete namespace %q: %w", name, err)
		}
		return nil
	})
}

// Name returns the namespace's name.
func (n *Namespace) Name() string { return n.name }

func (n *Namespace) bucket(tx *bolt.Tx) (*bolt.Bucket, error) {
	b := tx.Bucket([]byte(BucketPlugins)).Bucket(n.key)
	if b == nil {
		return nil, fmt.Errorf("store: namespace %q: %w", n.name, ErrNoNamespace)
	}
	return b, nil
}

func (n *Namespace) wrap(op string, key []byte, err error) error {
	if key == nil {
		return fmt.Errorf("store: namespace %q: %s: %w", n.name, op, err)
	}
	return fmt.Errorf("store: namespace %q: %s key %s: %w", n.name, op, keyString(key), err)
}

// Get returns a copy of key's value, or an error wrapping ErrNotFound.
func (n *Namespace) Get(key []byte) ([]byte, error) {
	if err := checkKey(key, "key", -1); err != nil {
		return nil, n.wrap("get", nil, err)
	}
	var out []byte
	err := n.db.view("get", func(tx *bolt.Tx) error {
		b, err := n.bucket(tx)
		if err != nil {
			return err
		}
		v := b.Get(key)
		if v == nil {
			return n.wrap("get", key, ErrNotFound)
		}
		out = make([]byte, len(v))
		copy(out, v)
		return nil
	})
	return out, err
}

// Has reports whether key is present.
func (n *Namespace) Has(key []byte) (bool, error) {
	if err := checkKey(key, "key", -1); err != nil {
		return false, n.wrap("has", nil, err)
	}
	found := false
	err := n.db.view("has", func(tx *bolt.Tx) error {
		b, err := n.bucket(tx)
		if err != nil {
			return err
		}
		found = b.Get(key) != nil
		return nil
	})
	return found, err
}

// Put sets key to value (nil or empty is an empty value) durably.
func (n *Namespace) Put(key, value []byte) error {
	return n.write("put", []Op{PutOp(key, value)})
}

// Delete removes key durably; deleting an absent key is not an error.
func (n *Namespace) Delete(key []byte) error {
	return n.write("delete", []Op{DeleteOp(key)})
}

// Batch applies ops in order in one durable transaction: all of them or, on
// any error, none. Every op is checked against the limits (ValidateBatch)
// before anything is written. An empty batch does nothing.
func (n *Namespace) Batch(ops []Op) error {
	return n.write("batch", ops)
}

func (n *Namespace) write(op string, ops []Op) error {
	if err := ValidateBatch(ops); err != nil {
		return n.wrap(op, nil, err)
	}
	if len(ops) == 0 {
		return nil
	}
	return n.db.update(op, func(tx *bolt.Tx) error {
		b, err := n.bucket(tx)
		if err != nil {
			return err
		}
		for i, o := range ops {
			if o.Kind == OpPut {
				err = b.Put(o.Key, o.Value)
			} else {
				err = b.Delete(o.Key)
			}
			if err != nil {
				return n.wrap(fmt.Sprintf("%s op %d (%s)", op, i, o.Kind), o.Key, err)
			}
		}
		return nil
	})
}

// Scan returns, in key order, the pairs whose key starts with prefix and
// sorts strictly after startAfter (an empty startAfter means from the
// start), at most limit of them (1..MaxScanLimit) and at most MaxScanBytes
// of keys and values (but always at least one pair if one is left). more
// reports whether further matching pairs exist: page on by passing the last
// returned key as startAfter. The returned pairs are copies.
func (n *Namespace) Scan(prefix, startAfter []byte, limit int) (kvs []KV, more bool, err error) {
	if err := checkScan(prefix, startAfter, limit); err != nil {
		return nil, false, n.wrap("scan", nil, err)
	}
	err = n.db.view("scan", func(tx *bolt.Tx) error {
		b, err := n.bucket(tx)
		if err != nil {
			return err
		}
		kvs, more = scan(b.Cursor(), prefix, startAfter, limit, MaxScanBytes)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return kvs, more, nil
}

func scan(c *bolt.Cursor, prefix, startAfter []byte, limit, maxBytes int) ([]KV, bool) {
	seek := prefix
	if len(startAfter) > 0 && bytes.Compare(startAfter, prefix) >= 0 {
		seek = startAfter
	}
	k, v := c.Seek(seek)
	if len(startAfter) > 0 && bytes.Equal(k, startAfter) {
		k, v = c.Next()
	}
	var out []KV
	size := 0
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if v == nil {
			continue // a nested bucket; namespaces never hold one
		}
		if len(out) == limit || (len(out) > 0 && size+len(k)+len(v) > maxBytes) {
			return out, true
		}
		// One allocation per pair; the key's capacity is capped so that
		// appending to it cannot overwrite the value.
		buf := make([]byte, len(k)+len(v))
		copy(buf, k)
		copy(buf[len(k):], v)
		out = append(out, KV{Key: buf[:len(k):len(k)], Value: buf[len(k):]})
		size += len(k) + len(v)
	}
	return out, false
}

// Stats describes a namespace's contents.
type Stats struct {
	Keys  int64 // number of keys
	Bytes int64 // sum of key and value lengths
}

// Stats counts the namespace's keys and bytes by reading all of it (time
// proportional to its size).
func (n *Namespace) Stats() (Stats, error) {
	var s Stats
	err := n.db.view("stats", func(tx *bolt.Tx) error {
		b, err := n.bucket(tx)
		if err != nil {
			return err
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			s.Keys++
			s.Bytes += int64(len(k) + len(v))
		}
		return nil
	})
	return s, err
}
