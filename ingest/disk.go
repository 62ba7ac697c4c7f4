package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/storage/disklog"
)

// CodeStorageUnavailable answers an ingest the local log could not store.
const CodeStorageUnavailable = "storage_unavailable"

// DiskOptions configure the disk backend.
type DiskOptions struct {
	Log *disklog.Log // open, not yet replayed
	// Replayed hears, once, how many records the start replayed and how
	// long it took.
	Replayed   func(records int, took time.Duration)
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Disk keeps every accepted batch in a log on local disk before it is
// applied: the single-instance backend. Its records are those of the
// Redis ingest stream (Encode of the batch, under its kind), so the two
// modes are two backends of one log. A batch is answered only once it is
// on disk; at start the whole log is replayed through the same apply, so
// a restart rebuilds what a running instance holds.
type Disk struct {
	o     DiskOptions
	apply ApplyFunc

	replayed atomic.Bool
	emits    chan Batch
	stopped  chan struct{} // closed when Run returns: nothing takes emits any more

	// turn applies records in the log's order, whichever goroutine
	// stored them, so a restart's replay gives what the live apply gave.
	mu      sync.Mutex
	cond    *sync.Cond
	applied uint64 // seq of the last record applied

	unavailable prometheus.Counter
	replaySecs  prometheus.Gauge
	replayedN   prometheus.Gauge
}

var _ Backend = (*Disk)(nil)

// NewDisk returns the disk backend; apply is the Pipeline's Apply.
func NewDisk(o DiskOptions, apply ApplyFunc) *Disk {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Replayed == nil {
		o.Replayed = func(int, time.Duration) {}
	}
	d := &Disk{o: o, apply: apply, emits: make(chan Batch, 1<<14), stopped: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	d.unavailable = prometheus.NewCounter(prometheus.CounterOpts{Name: "citywall_storage_ingest_unavailable_total",
		Help: "Ingest requests answered 503 because the local log could not store them (full, read-only, replaying)."})
	d.replaySecs = prometheus.NewGauge(prometheus.GaugeOpts{Name: "citywall_storage_replay_seconds",
		Help: "How long the replay of the stored ingest log took at start."})
	d.replayedN = prometheus.NewGauge(prometheus.GaugeOpts{Name: "citywall_storage_replayed_records",
		Help: "Records of the stored ingest log replayed at start."})
	if o.Registerer != nil {
		o.Registerer.MustRegister(d.unavailable, d.replaySecs, d.replayedN)
	}
	return d
}

// DiskRecord is how the disk backend keeps a batch: its kind, a newline,
// Encode's bytes (what the Redis stream keeps in two fields).
func DiskRecord(b Batch) ([]byte, error) {
	data, err := Encode(b)
	if err != nil {
		return nil, err
	}
	rec := make([]byte, 0, len(b.Kind)+1+len(data))
	rec = append(append(append(rec, b.Kind...), '\n'), data...)
	return rec, nil
}

func unrecord(rec []byte) (Batch, error) {
	kind, data, ok := bytes.Cut(rec, []byte{'\n'})
	if !ok {
		return Batch{}, errors.New("record without a kind")
	}
	return Decode(Kind(kind), data)
}

type replayKey struct{}

// Replaying says whether ctx is a backend's replay at start: what was
// told live (the tickets topic) is not told again.
func Replaying(ctx context.Context) bool { return ctx.Value(replayKey{}) != nil }

// NotReady: "replaying" until the log has been applied.
func (d *Disk) NotReady() string {
	if !d.replayed.Load() {
		return "replaying the stored ingest log"
	}
	return ""
}

// Run replays the log, then applies what Emit hands it until ctx ends.
func (d *Disk) Run(ctx context.Context) {
	defer close(d.stopped)
	began := time.Now()
	rctx := context.WithValue(ctx, replayKey{}, true)
	n, err := d.o.Log.Replay(func(r disklog.Record) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b, err := unrecord(r.Data)
		if err != nil {
			d.o.Logger.Warn("stored ingest record skipped", "seq", r.Seq, "err", err)
			return nil
		}
		d.apply(rctx, b)
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			d.o.Logger.Error("replay of the stored ingest log stopped", "err", err)
		}
		return
	}
	d.mu.Lock()
	d.applied = d.o.Log.LastSeq()
	d.mu.Unlock()
	took := time.Since(began)
	d.replaySecs.Set(took.Seconds())
	d.replayedN.Set(float64(n))
	d.replayed.Store(true)
	d.o.Replayed(n, took)
	d.emitLoop(ctx)
}

// emitLoop stores and applies the emitted batches in the order given.
func (d *Disk) emitLoop(ctx context.Context) {
	type stored struct {
		b    Batch
		wait func() (uint64, error)
	}
	queued := make(chan stored, 1024)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for s := range queued {
			seq, err := s.wait()
			if err != nil {
				d.o.Logger.Debug("emitted item not stored", "err", err)
				continue
			}
			d.applyAt(ctx, seq, s.b)
		}
	})
	defer close(queued)
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-d.emits:
			rec, err := DiskRecord(b)
			if err != nil {
				continue
			}
			wait, err := d.o.Log.Queue(ctx, rec)
			if err != nil {
				continue
			}
			queued <- stored{b, wait}
		}
	}
}

// applyAt applies the record seq once every record before it has been.
func (d *Disk) applyAt(ctx context.Context, seq uint64, b Batch) Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.applied+1 != seq {
		d.cond.Wait()
	}
	res := d.apply(ctx, b)
	d.applied = seq
	d.cond.Broadcast()
	return res
}

func (d *Disk) unavailableErr(reason string) error {
	d.unavailable.Inc()
	return &UnavailableError{Code: CodeStorageUnavailable, Reason: reason}
}

// Submit stores the batch on disk, then applies it and answers.
func (d *Disk) Submit(ctx context.Context, b Batch) (Result, error) {
	if !d.replayed.Load() {
		return Result{}, d.unavailableErr("replaying the stored ingest log after a start: nothing was accepted; retry in a few seconds (ids make a retry safe)")
	}
	rec, err := DiskRecord(b)
	if err != nil {
		return Result{}, err
	}
	seq, err := d.o.Log.Append(ctx, rec)
	if err != nil {
		return Result{}, d.unavailableErr(fmt.Sprintf("could not store the batch on disk (%v): nothing was accepted; retry later (ids make a retry safe)", err))
	}
	// Stored: apply it even if the client has gone, so this instance
	// holds what a restart would replay.
	return d.applyAt(context.WithoutCancel(ctx), seq, b), nil
}

// Emit hands the batch to Run, which stores and applies it in order. It
// waits while the queue is full (a replay at start); a batch still not
// taken after emitWait is dropped and logged.
func (d *Disk) Emit(ctx context.Context, b Batch) {
	select {
	case d.emits <- b:
		return
	default:
	}
	t := time.NewTimer(emitWait)
	defer t.Stop()
	select {
	case d.emits <- b:
	case <-ctx.Done():
	case <-d.stopped:
		// Shutting down: the emitted item (demo traffic) was never
		// acknowledged to anyone, so dropping it loses nothing promised.
	case <-t.C:
		d.o.Logger.Warn("emitted item dropped: the ingest queue stayed full", "waited", emitWait)
	}
}

const emitWait = 30 * time.Second
