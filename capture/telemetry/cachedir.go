package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	"kvbench/results"
)

// DefaultCacheDirMaxFiles bounds one listing of the cache directory.
const DefaultCacheDirMaxFiles = 1_000_000

// CacheDirSampler snapshots the KVBM disk cache directory at every phase
// boundary into the cachedir table: files, bytes, newest mtime, churn since
// the previous snapshot, and the filesystem's used bytes.
type CacheDirSampler struct {
	dir      string
	maxFiles int

	runID string
	out   *sink[results.CacheDirSnapshot]
	prev  map[fileKey]struct{}
	first bool
	warns []string
	durable
}

type fileKey struct {
	path string
	ino  uint64
}

// NewCacheDirSampler returns a sampler of dir; maxFiles bounds a listing
// (DefaultCacheDirMaxFiles when <= 0).
func NewCacheDirSampler(dir string, maxFiles int) *CacheDirSampler {
	if maxFiles <= 0 {
		maxFiles = DefaultCacheDirMaxFiles
	}
	return &CacheDirSampler{dir: dir, maxFiles: maxFiles, first: true}
}

// Name implements Sampler.
func (s *CacheDirSampler) Name() string { return "cachedir" }

// Open implements Sampler.
func (s *CacheDirSampler) Open(_ context.Context, dir, runID string) error {
	out, err := newSink[results.CacheDirSnapshot](dir, results.TableCacheDir, s.durability)
	if err != nil {
		return err
	}
	s.out, s.runID = out, runID
	return nil
}

// Mark implements Sampler. It is called from the runner's goroutine only.
// The first listed snapshot reports no churn (there is nothing to compare
// with); a missing directory counts as an empty listing.
func (s *CacheDirSampler) Mark(phase, point string) {
	row, files := SnapshotDir(s.dir, s.maxFiles)
	row.RunID, row.Phase, row.Point = s.runID, phase, point
	if files != nil {
		if !s.first && s.prev != nil {
			for k := range files {
				if _, ok := s.prev[k]; !ok {
					row.FilesCreated++
				}
			}
			for k := range s.prev {
				if _, ok := files[k]; !ok {
					row.FilesRemoved++
				}
			}
		}
		s.prev = files
		s.first = false
	}
	s.out.put([]results.CacheDirSnapshot{row})
}

// SnapshotDir lists dir recursively and reads its filesystem's usage. The
// returned set is nil when the listing failed; row.Error says why. A
// missing directory is an empty listing with row.Error set (KVBM creates
// it when it starts).
func SnapshotDir(dir string, maxFiles int) (results.CacheDirSnapshot, map[fileKey]struct{}) {
	row := results.CacheDirSnapshot{SampleUnixNs: time.Now().UnixNano(), Dir: dir}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err == nil {
		bs := int64(st.Bsize)
		row.FSTotalBytes = results.Ptr(int64(st.Blocks) * bs)
		row.FSUsedBytes = results.Ptr((int64(st.Blocks) - int64(st.Bfree)) * bs)
	}
	files := map[fileKey]struct{}{}
	var newest int64
	errStop := fmt.Errorf("listing cut at %d files", maxFiles)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			return nil // a file removed while listing
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if len(files) >= maxFiles {
			return errStop
		}
		var ino uint64
		if sys, ok := info.Sys().(*syscall.Stat_t); ok {
			ino = uint64(sys.Ino)
		}
		rel, _ := filepath.Rel(dir, path)
		files[fileKey{rel, ino}] = struct{}{}
		row.TotalBytes += info.Size()
		if mt := info.ModTime().UnixNano(); mt > newest {
			newest = mt
		}
		return nil
	})
	row.FileCount = int64(len(files))
	if row.FileCount > 0 {
		row.NewestMtimeUnixNs = results.Ptr(newest)
	}
	switch {
	case err == errStop:
		row.Error = err.Error()
		return row, nil
	case errors.Is(err, fs.ErrNotExist) && len(files) == 0:
		// Not created yet: an empty listing, so that the files of the
		// next snapshot count as created.
		row.Error = fmt.Sprintf("%s does not exist", dir)
		return row, files
	case err != nil:
		row.Error = fmt.Sprintf("list %s: %v", dir, unwrapPath(err))
		return row, nil
	}
	return row, files
}

// Close implements Sampler.
func (s *CacheDirSampler) Close() Report {
	rep := Report{Warnings: s.warns}
	s.out.closeInto(&rep, "cachedir", results.TableCacheDir)
	rep.Facts = map[string]any{"kvbm_cache_dir": s.dir}
	return rep
}
