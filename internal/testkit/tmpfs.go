package testkit

import (
	"os/exec"
	"strconv"
	"testing"
)

// Tmpfs mounts a tmpfs of size bytes on a fresh directory and unmounts it
// when the test ends: a real file system that fills up (ENOSPC) or is
// remounted read-only (EROFS). It needs root (mount); without it the test
// fails, it does not skip.
func Tmpfs(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mount a tmpfs of %d bytes on %s (needs root): %v: %s", size, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Remount remounts the tmpfs at dir with opts ("ro", "rw", "size=N").
func Remount(t testing.TB, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s %s: %v: %s", dir, opts, err, out)
	}
}
