package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/citywall/citywall/storage"
)

// backupCmd writes a backup of a running instance (over its API, with an
// admin token) or of a stopped instance's data directory.
func backupCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("citywall backup", flag.ContinueOnError)
	server := fs.String("server", "", "a running instance's URL, e.g. http://127.0.0.1:8080 (its admin token in -token or $CITYWALL_TOKEN)")
	token := fs.String("token", os.Getenv("CITYWALL_TOKEN"), "admin token for -server")
	data := fs.String("data", "", "a stopped instance's data directory (a running one holds its lock: use -server)")
	dest := fs.String("out", "", "backup file to write (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dest == "" || (*server == "") == (*data == "") {
		return errors.New("usage: citywall backup (-server URL | -data DIR) -out FILE")
	}
	tmp := *dest + ".partial"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600) // it holds tokens
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // a no-op once renamed
	if *server != "" {
		err = fetchBackup(ctx, *server, *token, f)
	} else {
		err = backupDir(*data, f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// Read it back whole before calling it a backup.
	m, err := verifyFile(tmp)
	if err != nil {
		return fmt.Errorf("backup: the file written does not check: %w", err)
	}
	if err := os.Rename(tmp, *dest); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: backup of %s taken %s, %d files, checked\n", *dest, m.Source, m.Created.Format(time.RFC3339), m.Files)
	return nil
}

func fetchBackup(ctx context.Context, server, token string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/api/v1/admin/backup", nil)
	if err != nil {
		return err
	}
	if token == "" {
		return errors.New("-server needs an admin token: -token or $CITYWALL_TOKEN")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s answered %s: %s", server, resp.Status, strings.TrimSpace(string(b)))
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

func backupDir(path string, w io.Writer) error {
	if _, err := os.Stat(path); err != nil {
		return err // never create the directory a backup reads
	}
	d, err := storage.Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Backup(w, nil, buildID())
}

func verifyFile(path string) (storage.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return storage.Manifest{}, err
	}
	defer f.Close()
	return storage.Verify(f)
}

// restoreCmd writes a backup into a new or empty data directory.
func restoreCmd(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("citywall restore", flag.ContinueOnError)
	in := fs.String("in", "", "backup file (required)")
	data := fs.String("data", "", "data directory to restore into: new or empty (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *data == "" {
		return errors.New("usage: citywall restore -in FILE -data DIR")
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := storage.Restore(f, *data)
	if err != nil {
		return fmt.Errorf("restore %s: %w", *in, err)
	}
	fmt.Fprintf(out, "%s: restored the backup of %s taken %s; start citywall with storage.dir: %s\n", *data, m.Source, m.Created.Format(time.RFC3339), *data)
	return nil
}
