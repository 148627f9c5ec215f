package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
)

// diskStore backs G3 with one real file per block. A single goroutine
// performs every operation in the order the tier model decided them, so a
// block's write, read and removal never race.
type diskStore struct {
	dir  string
	size int

	mu     sync.RWMutex // guards closed against sends
	closed bool
	ops    chan diskOp
	done   chan struct{}

	// Counters, for tests and logs.
	writes, reads, removes, failures atomic.Uint64
	bytesWritten, bytesRead          atomic.Uint64
	lastErr                          atomic.Value // error
}

type diskOpKind uint8

const (
	diskWrite diskOpKind = iota
	diskRead
	diskRemove
)

type diskOp struct {
	kind   diskOpKind
	hash   uint64
	hashes []uint64
	done   chan error
}

var errDiskClosed = errors.New("disk tier closed")

// openDiskStore creates a fresh directory under parent ("" = the system
// temp dir) and starts the worker.
func openDiskStore(parent string, size int) (*diskStore, error) {
	if parent != "" {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return nil, fmt.Errorf("disk cache dir %s: %w", parent, err)
		}
	}
	dir, err := os.MkdirTemp(parent, "kvbench-sim-g3-")
	if err != nil {
		return nil, fmt.Errorf("disk cache dir %s: %w", parent, err)
	}
	d := &diskStore{
		dir:  dir,
		size: size,
		ops:  make(chan diskOp, 8192),
		done: make(chan struct{}),
	}
	go d.run()
	return d, nil
}

func (d *diskStore) send(op diskOp) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return false
	}
	d.ops <- op
	return true
}

func (d *diskStore) write(h uint64)  { d.send(diskOp{kind: diskWrite, hash: h}) }
func (d *diskStore) remove(h uint64) { d.send(diskOp{kind: diskRemove, hash: h}) }

func (d *diskStore) read(hashes []uint64) chan error {
	done := make(chan error, 1)
	op := diskOp{kind: diskRead, hashes: append([]uint64(nil), hashes...), done: done}
	if !d.send(op) {
		done <- errDiskClosed
	}
	return done
}

func (d *diskStore) path(h uint64) string {
	var b [20]byte
	name := strconv.AppendUint(b[:0], h, 16)
	return filepath.Join(d.dir, string(name)+".kv")
}

func (d *diskStore) run() {
	defer close(d.done)
	wbuf := make([]byte, d.size)
	rbuf := make([]byte, d.size)
	for op := range d.ops {
		switch op.kind {
		case diskWrite:
			if len(wbuf) >= 8 {
				binary.LittleEndian.PutUint64(wbuf, op.hash)
			}
			if err := os.WriteFile(d.path(op.hash), wbuf, 0o600); err != nil {
				d.fail(err)
				continue
			}
			d.writes.Add(1)
			d.bytesWritten.Add(uint64(len(wbuf)))
		case diskRemove:
			if err := os.Remove(d.path(op.hash)); err != nil && !errors.Is(err, os.ErrNotExist) {
				d.fail(err)
				continue
			}
			d.removes.Add(1)
		case diskRead:
			var first error
			for _, h := range op.hashes {
				n, err := readFile(d.path(h), rbuf)
				if err != nil {
					d.fail(err)
					if first == nil {
						first = err
					}
					continue
				}
				d.reads.Add(1)
				d.bytesRead.Add(uint64(n))
			}
			op.done <- first
		}
	}
}

func readFile(path string, buf []byte) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return n, err
}

func (d *diskStore) fail(err error) {
	d.failures.Add(1)
	d.lastErr.Store(err)
}

// close stops the worker after the queued operations and removes the
// directory.
func (d *diskStore) close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.ops)
	d.mu.Unlock()
	<-d.done
	if err := os.RemoveAll(d.dir); err != nil {
		return fmt.Errorf("remove disk cache dir %s: %w", d.dir, err)
	}
	return nil
}
