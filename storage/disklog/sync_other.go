//go:build !linux

package disklog

import "os"

func fdatasync(f *os.File) error { return f.Sync() }
