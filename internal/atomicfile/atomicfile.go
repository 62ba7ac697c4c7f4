// Package atomicfile replaces files so that a crash leaves the old content
// or the new, never a torn file.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrDirSync marks an error of Write that came after the rename, while
// syncing the directory: the new content is in place, but a crash may
// still lose the rename.
var ErrDirSync = errors.New("directory not synced")

// Write replaces path with data, readable by its owner alone: temp file
// (".<name>.*.tmp" beside it), fsync, rename, fsync of the directory. The
// directory must exist.
func Write(path string, data []byte) error {
	return place(path, data, "rename", os.Rename)
}

// Create writes data to path as Write does, but only when path does not
// exist yet: the temporary file is linked in, which fails with an error
// matching fs.ErrExist when another writer got there first.
func Create(path string, data []byte) error {
	return place(path, data, "link", os.Link)
}

// place writes data to a synced temporary file beside path and puts it at
// path with put (rename or link), then syncs the directory.
func place(path string, data []byte, op string, put func(oldpath, newpath string) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed; the extra name once linked
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := put(tmp, path); err != nil {
		return fmt.Errorf("%s %s: %w", op, tmp, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w: %w", dir, ErrDirSync, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w: %w", dir, ErrDirSync, err)
	}
	return nil
}
