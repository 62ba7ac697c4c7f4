package storage

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// A backup is a gzip-compressed tar stream: first Manifest
// (citywall-backup.json), then the data directory's files (its state files
// at the top, the ingest log's segments under log/), then the closing
// entry (citywall-backup.sums.json) with every file's size and SHA-256. A
// stream cut anywhere lacks the closing entry or fails gzip's checksum,
// and Restore refuses it.
const (
	BackupFormat   = "citywall-backup"
	backupVersion  = 1
	manifestName   = "citywall-backup.json"
	sumsName       = "citywall-backup.sums.json"
	backupFileMode = 0o600
)

// Manifest opens a backup.
type Manifest struct {
	Format      string    `json:"format"`       // BackupFormat
	Version     int       `json:"version"`      // of the backup format
	DataVersion int       `json:"data_version"` // the data directory's format (Version)
	Created     time.Time `json:"created"`
	Build       string    `json:"build,omitempty"`
	Source      string    `json:"source,omitempty"` // the data directory backed up

	Files int `json:"-"` // files read back by Restore or Verify
}

type sums struct {
	Files map[string]fileSum `json:"files"`
}

type fileSum struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// SegmentSource gives a consistent copy of the ingest log; disklog.Log is
// one.
type SegmentSource interface {
	Snapshot(fn func(name string, size int64, r io.Reader) error) error
}

// Backup writes a backup of the open directory d to w: its state files as
// they are (each is replaced atomically, so each is whole) and then log's
// consistent prefix, taken after them, so the log holds every ticket the
// state files can name. log nil: the log directory is copied as it is
// (for a directory no process is writing).
func (d *Dir) Backup(w io.Writer, log SegmentSource, build string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	now := time.Now().UTC()
	m := Manifest{Format: BackupFormat, Version: backupVersion, DataVersion: Version, Created: now, Build: build, Source: d.path}
	mb, _ := json.MarshalIndent(m, "", " ")
	if err := writeEntry(tw, manifestName, int64(len(mb)), now, strings.NewReader(string(mb)), nil); err != nil {
		return err
	}
	all := sums{Files: map[string]fileSum{}}
	add := func(name string, size int64, r io.Reader) error {
		h := sha256.New()
		if err := writeEntry(tw, name, size, now, r, h); err != nil {
			return err
		}
		all.Files[name] = fileSum{Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
		return nil
	}
	ents, err := os.ReadDir(d.path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for _, e := range ents {
		if !backedUp(e) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d.path, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // rotated away meanwhile
		}
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if err := add(e.Name(), int64(len(b)), strings.NewReader(string(b))); err != nil {
			return err
		}
	}
	if log == nil {
		log = dirSegments(filepath.Join(d.path, LogDir))
	}
	if err := log.Snapshot(func(name string, size int64, r io.Reader) error {
		return add(LogDir+"/"+name, size, r)
	}); err != nil {
		return fmt.Errorf("backup: ingest log: %w", err)
	}
	sb, _ := json.MarshalIndent(all, "", " ")
	if err := writeEntry(tw, sumsName, int64(len(sb)), now, strings.NewReader(string(sb)), nil); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// backedUp says whether a top-level entry goes into a backup: regular
// files, but not the lock, and not the temporary files of a replacement
// under way (".name.*.tmp").
func backedUp(e os.DirEntry) bool {
	return e.Type().IsRegular() && e.Name() != lockFile && !strings.HasPrefix(e.Name(), ".")
}

func writeEntry(tw *tar.Writer, name string, size int64, at time.Time, r io.Reader, h io.Writer) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Size: size, Mode: backupFileMode, ModTime: at, Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("backup: %s: %w", name, err)
	}
	if h != nil {
		r = io.TeeReader(r, h)
	}
	n, err := io.Copy(tw, r)
	if err == nil && n != size {
		err = fmt.Errorf("%d bytes read, %d expected", n, size)
	}
	if err != nil {
		return fmt.Errorf("backup: %s: %w", name, err)
	}
	return nil
}

// dirSegments reads a log directory no process is writing.
type dirSegments string

func (d dirSegments) Snapshot(fn func(name string, size int64, r io.Reader) error) error {
	ents, err := os.ReadDir(string(d))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !segmentName.MatchString(e.Name()) {
			continue
		}
		f, err := os.Open(filepath.Join(string(d), e.Name()))
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err == nil {
			err = fn(e.Name(), st.Size(), io.NewSectionReader(f, 0, st.Size()))
		}
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

var (
	segmentName = regexp.MustCompile(`^[0-9]{20}\.seg$`)
	stateName   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,200}$`)
)

// restorable says whether a backup's entry names a file Restore may
// write: a top-level state file, or a log segment.
func restorable(name string) bool {
	if dir, file := path.Split(name); dir == LogDir+"/" {
		return segmentName.MatchString(file)
	}
	return stateName.MatchString(name) && name != lockFile
}

// ErrBadBackup marks a backup that cannot be restored: not a backup,
// truncated, corrupt, or of a newer format.
var ErrBadBackup = errors.New("bad backup")

// Restore writes the backup read from r into dir, which must be missing or
// empty; nothing is left there unless the whole backup was read and every
// file's checksum matched. It returns the backup's manifest.
func Restore(r io.Reader, dir string) (Manifest, error) {
	var m Manifest
	if err := emptyTarget(dir); err != nil {
		return m, err
	}
	made := false
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		made = true
	}
	if err := os.MkdirAll(filepath.Join(dir, LogDir), 0o700); err != nil {
		return m, fmt.Errorf("restore into %s: %w", dir, err)
	}
	m, err := restore(r, dir)
	if err != nil {
		// Leave the target as it was found.
		if made {
			_ = os.RemoveAll(dir)
		} else if ents, rerr := os.ReadDir(dir); rerr == nil {
			for _, e := range ents {
				_ = os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
		return m, err
	}
	return m, nil
}

func emptyTarget(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore into %s: %w", dir, err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("restore into %s: the directory is not empty (it holds %s%s); restore into a new or empty directory", dir, ents[0].Name(), more(len(ents)-1))
	}
	return nil
}

func more(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" and %d more", n)
}

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadBackup, fmt.Sprintf(format, a...))
}

// corrupt is bad for a backup damaged past its manifest.
func corrupt(format string, a ...any) error {
	return bad("the backup is corrupt: "+format, a...)
}

func restore(r io.Reader, dir string) (Manifest, error) {
	var m Manifest
	gz, err := gzip.NewReader(r)
	if err != nil {
		return m, bad("not a citywall backup (not gzip: %v)", err)
	}
	tr := tar.NewReader(gz)
	next := func() (*tar.Header, error) {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// The archive ended early. A changed byte can do that too
			// (deflate copying tar's zero padding where a header
			// belongs): the gzip checksum, read at the end, tells.
			if _, cerr := io.Copy(io.Discard, gz); cerr != nil {
				return nil, corrupt("its archive ends before its closing entry %s, and %v", sumsName, cerr)
			}
			return nil, bad("the backup is truncated: it ends before its closing entry %s", sumsName)
		}
		if err != nil {
			return nil, bad("the backup is truncated or corrupt: %v", err)
		}
		return h, nil
	}
	h, err := next()
	if err != nil {
		return m, err
	}
	if h.Name != manifestName {
		return m, bad("not a citywall backup (its first entry is %q, not %s)", h.Name, manifestName)
	}
	if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&m); err != nil {
		return m, bad("the backup is corrupt or not a citywall backup (unreadable %s: %v)", manifestName, err)
	}
	if m.Format != BackupFormat {
		return m, bad("not a citywall backup (its %s names the format %q, not %q)", manifestName, m.Format, BackupFormat)
	}
	if m.Version > backupVersion {
		return m, bad("backup format %d is newer than this build reads (%d): restore it with a newer citywall", m.Version, backupVersion)
	}
	if m.DataVersion > Version {
		return m, bad("the backup holds data format %d, newer than this build reads (%d): restore it with a newer citywall", m.DataVersion, Version)
	}
	got := map[string]fileSum{}
	for {
		h, err := next()
		if err != nil {
			return m, err
		}
		if h.Name == sumsName {
			var want sums
			if err := json.NewDecoder(io.LimitReader(tr, 64<<20)).Decode(&want); err != nil {
				return m, corrupt("unreadable %s: %v", sumsName, err)
			}
			if err := checkSums(want, got); err != nil {
				return m, err
			}
			m.Files = len(got)
			// The gzip trailer's checksum is read only at the end.
			if _, err := io.Copy(io.Discard, gz); err != nil {
				return m, corrupt("%v", err)
			}
			if dir == "" {
				return m, nil
			}
			return m, syncDir(dir)
		}
		if h.Typeflag != tar.TypeReg || !restorable(h.Name) {
			return m, corrupt("unexpected entry %q", h.Name)
		}
		if _, dup := got[h.Name]; dup {
			return m, corrupt("entry %q appears twice", h.Name)
		}
		var sum fileSum
		if dir == "" {
			sum, err = hashOnly(tr)
		} else {
			sum, err = writeFile(filepath.Join(dir, filepath.FromSlash(h.Name)), tr)
		}
		if err != nil {
			return m, err
		}
		got[h.Name] = sum
	}
}

func checkSums(want sums, got map[string]fileSum) error {
	for name, w := range want.Files {
		g, ok := got[name]
		switch {
		case !ok:
			return corrupt("%s is listed but missing", name)
		case g != w:
			return bad("%s is corrupt: %d bytes, sha256 %s; the backup recorded %d bytes, sha256 %s", name, g.Size, g.SHA256, w.Size, w.SHA256)
		}
	}
	for name := range got {
		if _, ok := want.Files[name]; !ok {
			return corrupt("%s is not listed in %s", name, sumsName)
		}
	}
	return nil
}

// Verify reads a whole backup and checks it as Restore would, writing
// nothing.
func Verify(r io.Reader) (Manifest, error) { return restore(r, "") }

func hashOnly(r io.Reader) (fileSum, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return fileSum{}, bad("the backup is truncated or corrupt: %v", err)
	}
	return fileSum{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func writeFile(p string, r io.Reader) (fileSum, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, backupFileMode)
	if err != nil {
		return fileSum{}, fmt.Errorf("restore: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(f, io.TeeReader(r, h))
	if err != nil {
		f.Close()
		return fileSum{}, bad("the backup is truncated or corrupt in %s: %v", filepath.Base(p), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fileSum{}, fmt.Errorf("restore: %w", err)
	}
	if err := f.Close(); err != nil {
		return fileSum{}, fmt.Errorf("restore: %w", err)
	}
	return fileSum{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func syncDir(dir string) error {
	for _, d := range []string{filepath.Join(dir, LogDir), dir} {
		f, err := os.Open(d)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	return nil
}
