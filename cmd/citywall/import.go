package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/citywall/citywall/geo/ticket"
)

func importCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("citywall import", flag.ContinueOnError)
	format := fs.String("format", "", "csv or open311 (default: from the file name)")
	preset := fs.String("mapping", "citywall", "CSV column preset: citywall (id,created,channel,category,...) or nyc311")
	server := fs.String("server", "", "post the tickets to this citywall, e.g. http://127.0.0.1:8080 (default: only read and report)")
	speed := fs.Float64("speed", 0, "replay speed: 1 keeps the original gaps, 60 plays an hour a minute, 0 posts at once")
	live := fs.Bool("live", false, "stamp each ticket with the time it is posted, so old data shows on the live map")
	batch := fs.Int("batch", ticket.DefaultReplayBatch, "tickets per post")
	maxGap := fs.Duration("max-gap", time.Hour, "cap any one gap of the file's timeline when replaying (0: keep every gap)")
	crs := fs.String("crs", "", "coordinate system of the file's points: wgs84, gcj02 or bd09 (default: the preset's)")
	channel := fs.String("channel", "", "channel for rows that name none (default: the preset's)")
	tz := fs.String("tz", "", "time zone of times without an offset, e.g. Asia/Shanghai (default: the preset's)")
	layout := fs.String("time-layout", "", "Go time layout of the created column (default: the preset's)")
	cols := map[string]*string{}
	for _, c := range []string{"id", "created", "category", "subcategory", "summary", "lat", "lng", "district", "grid", "urgent", "channel"} {
		cols[c] = fs.String("col-"+c, "", "CSV column holding "+c+" (default: the preset's)")
	}
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: citywall import [flags] FILE\n\nThe token for -server comes from CITYWALL_TOKEN (a token with the ingest role).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("import: give exactly one FILE")
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()

	if *format == "" {
		*format = "csv"
		if strings.EqualFold(filepath.Ext(path), ".json") {
			*format = "open311"
		}
	}
	var res *ticket.ImportResult
	switch *format {
	case "csv":
		m, err := mappingFor(*preset)
		if err != nil {
			return err
		}
		setIf(&m.ID, cols["id"])
		setIf(&m.Created, cols["created"])
		setIf(&m.Category, cols["category"])
		setIf(&m.Subcategory, cols["subcategory"])
		setIf(&m.Summary, cols["summary"])
		setIf(&m.Lat, cols["lat"])
		setIf(&m.Lng, cols["lng"])
		setIf(&m.District, cols["district"])
		setIf(&m.Grid, cols["grid"])
		setIf(&m.Urgent, cols["urgent"])
		setIf(&m.Channel, cols["channel"])
		setIf(&m.TimeLayout, layout)
		if *crs != "" {
			m.CRS = ticket.CRS(*crs)
		}
		if *channel != "" {
			m.DefaultChannel = ticket.Channel(*channel)
		}
		if *tz != "" {
			loc, err := time.LoadLocation(*tz)
			if err != nil {
				return fmt.Errorf("import: -tz: %w", err)
			}
			m.TimeZone = loc
		}
		res, err = ticket.ReadCSV(f, m)
		if err != nil {
			return fmt.Errorf("import %s: %w", path, err)
		}
	case "open311":
		res, err = ticket.ReadOpen311(f)
		if err != nil {
			return fmt.Errorf("import %s: %w", path, err)
		}
	default:
		return fmt.Errorf("import: -format %q: want csv or open311", *format)
	}
	report(os.Stdout, path, res)
	if *server == "" {
		return nil
	}

	client := &ticket.Client{URL: strings.TrimRight(*server, "/"), Token: os.Getenv("CITYWALL_TOKEN"), HTTP: &http.Client{Timeout: time.Minute}}
	if client.Token == "" {
		return errors.New("import: set CITYWALL_TOKEN to a token with the ingest role")
	}
	var sent, accepted, dup, rejected int
	post := func(ctx context.Context, batch []ticket.Ticket) error {
		if *live {
			now := time.Now()
			stamped := make([]ticket.Ticket, len(batch))
			for i, t := range batch {
				t.Created = now
				stamped[i] = t
			}
			batch = stamped
		}
		r, err := client.Post(ctx, batch)
		if err != nil {
			return err
		}
		sent += len(batch)
		accepted += r.Accepted
		dup += r.Duplicates
		rejected += r.Rejected
		for _, it := range r.Items {
			if it.Status == ticket.StatusRejected {
				fmt.Fprintf(os.Stderr, "rejected %s: %s\n", it.ID, it.Reason)
			}
		}
		return nil
	}
	err = ticket.Replay(ctx, res.Tickets, ticket.ReplayOptions{Speed: *speed, Batch: *batch, MaxGap: *maxGap}, post)
	fmt.Printf("posted %d to %s: %d accepted, %d already held, %d rejected\n", sent, client.URL, accepted, dup, rejected)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("import: %w", err)
	}
	return nil
}

func mappingFor(preset string) (ticket.Mapping, error) {
	switch preset {
	case "citywall":
		return ticket.DefaultMapping(), nil
	case "nyc311":
		return ticket.NYC311Mapping(), nil
	}
	return ticket.Mapping{}, fmt.Errorf("import: -mapping %q: want citywall or nyc311", preset)
}

func setIf(dst *string, v *string) {
	if *v != "" {
		*dst = *v
	}
}

// report prints what was read: every row is accounted for.
func report(w io.Writer, path string, r *ticket.ImportResult) {
	fmt.Fprintf(w, "%s: %d rows: %d tickets, %d without location, %d rejected\n",
		path, r.Rows, len(r.Tickets), len(r.NoLocation), len(r.Errors))
	if n := len(r.NoLocation); n > 0 {
		show := r.NoLocation[:min(n, 20)]
		more := ""
		if n > len(show) {
			more = fmt.Sprintf(" (+%d more)", n-len(show))
		}
		fmt.Fprintf(w, "  rows without location: %v%s\n", show, more)
	}
	for i, e := range r.Errors {
		if i == 20 {
			fmt.Fprintf(w, "  (+%d more rejected rows)\n", len(r.Errors)-i)
			break
		}
		fmt.Fprintf(w, "  %v\n", e)
	}
}
