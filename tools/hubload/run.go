package hubload

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/citywall/citywall/stream"
)

// Options configure Run. Zero values take the defaults in brackets.
type Options struct {
	Clients  int           // WebSocket connections [1000]
	Topics   int           // heat topics the clients are spread over [25]
	Rate     float64       // deltas per second over all topics in the steady phase [100]
	Duration time.Duration // steady phase [10s]
	Saturate time.Duration // saturation phase; 0 skips it
	// Window bounds the saturation phase's messages published but not yet
	// written to a socket, per client [16].
	Window int
	// Publishers is how many goroutines publish in the saturation phase,
	// each with its own share of the topics [1].
	Publishers int
	Dial       int // dials in flight at once [64]
	Prefill    int // cells per topic before the clients connect [500]; negative: none
	Cells      int // distinct cells per topic [2000]
	Hub        stream.Options

	CPUProfile string // if set, a CPU profile of the server process over the phases
	MemProfile string // if set, a heap profile of the server process with the clients idle (every allocation sampled)

	// ClientCommand makes the command that runs the clients, given the
	// arguments for ClientMain. Nil re-executes this binary as
	// `<exe> bench hub-clients <args>`.
	ClientCommand func(args []string) *exec.Cmd
	// Log gets progress lines [discarded].
	Log io.Writer
	// ClientStderr gets the client process's stderr [Log].
	ClientStderr io.Writer
}

func (o *Options) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Clients, 1000)
	def(&o.Topics, 25)
	def(&o.Window, 16)
	def(&o.Publishers, 1)
	def(&o.Dial, 64)
	if o.Rate <= 0 {
		o.Rate = 100
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.ClientStderr == nil {
		o.ClientStderr = o.Log
	}
	if o.ClientCommand == nil {
		o.ClientCommand = func(args []string) *exec.Cmd {
			exe, err := os.Executable()
			if err != nil {
				exe = os.Args[0]
			}
			return exec.Command(exe, append([]string{"bench", "hub-clients"}, args...)...)
		}
	}
}

// Report is the outcome of Run.
type Report struct {
	CPU            string         `json:"cpu"`
	Procs          int            `json:"gomaxprocs"`
	GoVersion      string         `json:"go_version"`
	Clients        int            `json:"clients"`
	Topics         int            `json:"topics"`
	Rate           float64        `json:"rate"`
	Publishers     int            `json:"saturation_publishers"`
	Connected      int            `json:"connected"`
	DialErrors     int            `json:"dial_errors"`
	FirstError     string         `json:"first_error,omitempty"`
	ConnectSeconds float64        `json:"connect_seconds"`
	Idle           IdleMemory     `json:"idle"`
	Phases         []PhaseResult  `json:"phases"`
	Disconnects    int            `json:"disconnects"`
	CloseCodes     map[string]int `json:"close_codes,omitempty"`
	ProtocolErrors uint64         `json:"protocol_errors"`
	ClientCPU      float64        `json:"client_cpu_seconds"`
}

// IdleMemory is the server process's memory before the clients connect
// and once they are all connected, subscribed and quiet.
type IdleMemory struct {
	Connections       int     `json:"connections"`
	Before            Memory  `json:"before"`
	After             Memory  `json:"after"`
	RSSPerConn        float64 `json:"rss_per_conn"`        // bytes
	HeapPerConn       float64 `json:"heap_per_conn"`       // bytes of live heap
	StackPerConn      float64 `json:"stack_per_conn"`      // bytes of goroutine stacks
	GoroutinesPerConn float64 `json:"goroutines_per_conn"` // the hub's goroutines
}

// PhaseResult is one publishing phase seen from both sides.
type PhaseResult struct {
	Name            string         `json:"name"`
	Seconds         float64        `json:"seconds"` // publishing
	Published       uint64         `json:"published"`
	PublishedPerSec float64        `json:"published_per_sec"`
	Expected        uint64         `json:"expected"`  // published × the topic's subscribers
	Delivered       uint64         `json:"delivered"` // received by the clients
	DeliveredPerSec float64        `json:"delivered_per_sec"`
	Written         uint64         `json:"written"` // the hub's sent counter
	WrittenPerSec   float64        `json:"written_per_sec"`
	Gaps            uint64         `json:"gaps"`
	Complete        bool           `json:"complete"` // every client still connected ended on its topic's last seq
	SlowDisconnects uint64         `json:"slow_disconnects"`
	MsgsPerFrame    float64        `json:"msgs_per_frame"`
	Latency         LatencySummary `json:"latency"`
	ServerCPU       float64        `json:"server_cpu_seconds"`
	ClientCPU       float64        `json:"client_cpu_seconds"`
	// OtherCPU is what the rest of the machine used meanwhile: if it is
	// not near zero, the figures were taken on a busy machine.
	OtherCPU float64 `json:"other_cpu_seconds"`
}

// Run starts a hub in this process and the clients in a child process,
// measures idle memory per connection, publishes at o.Rate for o.Duration,
// then (if o.Saturate > 0) as fast as the hub delivers, and reports.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.setDefaults()
	if err := raiseFileLimit(); err != nil {
		return nil, err
	}
	if o.MemProfile != "" {
		// Every allocation, so the profile accounts for each connection's
		// bytes exactly; this adds to the memory figures a little.
		runtime.MemProfileRate = 1
	}
	topics := HeatTopics(o.Topics)
	s, err := startServer(ServerOptions{Topics: topics, Prefill: o.Prefill, Cells: o.Cells, Hub: o.Hub})
	if err != nil {
		return nil, err
	}
	defer s.close()
	rep := &Report{
		CPU: cpuModel(), Procs: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		Clients: o.Clients, Topics: o.Topics, Rate: o.Rate, Publishers: o.Publishers,
	}
	rep.Idle.Before = readMemory(true)

	child, err := startChild(ctx, o, s.url, topics)
	if err != nil {
		return nil, err
	}
	defer child.kill()
	fmt.Fprintf(o.Log, "connecting %d clients to %s\n", o.Clients, s.url)
	ev, err := child.next("connected", 10*time.Minute)
	if err != nil {
		return nil, err
	}
	cr := ev.Report
	rep.Connected, rep.DialErrors, rep.FirstError, rep.ConnectSeconds = cr.Connected, cr.DialErrors, cr.FirstError, cr.ConnectSeconds
	fmt.Fprintf(o.Log, "%d connected in %.1fs (%d failed)\n", cr.Connected, cr.ConnectSeconds, cr.DialErrors)

	// Let the handshakes' buffers and the snapshots' writes finish.
	for deadline := time.Now().Add(10 * time.Second); s.hub.Stats().Connections < cr.Connected && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second)
	rep.Idle.After = readMemory(true)
	rep.Idle.Connections = s.hub.Stats().Connections
	if n := float64(rep.Idle.Connections); n > 0 {
		a, b := rep.Idle.After, rep.Idle.Before
		rep.Idle.RSSPerConn = (float64(a.RSS) - float64(b.RSS)) / n
		rep.Idle.HeapPerConn = (float64(a.HeapAlloc) - float64(b.HeapAlloc)) / n
		rep.Idle.StackPerConn = (float64(a.StackInuse) - float64(b.StackInuse)) / n
		rep.Idle.GoroutinesPerConn = float64(a.Goroutines-b.Goroutines) / n
	}
	fmt.Fprintf(o.Log, "idle: %.0f B RSS, %.0f B heap per connection\n", rep.Idle.RSSPerConn, rep.Idle.HeapPerConn)
	if o.MemProfile != "" {
		if err := writeHeapProfile(o.MemProfile); err != nil {
			return nil, err
		}
	}

	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	steady := fmt.Sprintf("steady-%g/s", o.Rate)
	p, err := runPhase(ctx, s, child, steady, o.Log, func() { s.paced(ctx, o.Rate, o.Duration) })
	if err != nil {
		return nil, err
	}
	rep.Phases = append(rep.Phases, p)
	if o.Saturate > 0 {
		window := o.Window * o.Clients
		p, err := runPhase(ctx, s, child, fmt.Sprintf("saturation-%dpub", o.Publishers), o.Log, func() { s.saturate(ctx, o.Saturate, window, o.Publishers) })
		if err != nil {
			return nil, err
		}
		rep.Phases = append(rep.Phases, p)
	}
	pprof.StopCPUProfile()

	_ = child.stdin.Close()
	ev, err = child.next("report", time.Minute)
	if err != nil {
		return nil, err
	}
	if err := child.wait(); err != nil {
		return nil, err
	}
	cr = ev.Report
	rep.Disconnects, rep.CloseCodes, rep.ProtocolErrors, rep.ClientCPU = cr.Disconnects, cr.CloseCodes, cr.ProtocolErrors, cr.CPUSeconds
	return rep, nil
}

// runPhase runs publish between a "begin" and an "end" of the clients and
// puts the server's and the clients' counts side by side.
func runPhase(ctx context.Context, s *server, child *child, name string, log io.Writer, publish func()) (PhaseResult, error) {
	fmt.Fprintf(log, "phase %s\n", name)
	if err := child.send("begin " + name); err != nil {
		return PhaseResult{}, err
	}
	if _, err := child.next("begun", time.Minute); err != nil {
		return PhaseResult{}, err
	}
	before := append([]uint64(nil), s.published...)
	sent0, slow0 := counterValue(s.sent), counterValue(s.slow)
	cpu0, machine0 := cpuTime(), machineCPU()
	start := time.Now()
	publish()
	elapsed := time.Since(start).Seconds()
	machine := (machineCPU() - machine0).Seconds()
	after := append([]uint64(nil), s.published...)
	expected := s.expected(before, after)
	if err := child.send(fmt.Sprintf("end %s %d", name, expected)); err != nil {
		return PhaseResult{}, err
	}
	ev, err := child.next("phase", 5*time.Minute)
	if err != nil {
		return PhaseResult{}, err
	}
	cp := ev.Phase
	r := PhaseResult{
		Name:            name,
		Seconds:         elapsed,
		Expected:        expected,
		Delivered:       cp.Deltas,
		DeliveredPerSec: cp.DeltasPerSec,
		Written:         uint64(counterValue(s.sent) - sent0),
		Gaps:            cp.Gaps,
		SlowDisconnects: uint64(counterValue(s.slow) - slow0),
		Latency:         cp.Latency,
		ServerCPU:       (cpuTime() - cpu0).Seconds(),
		ClientCPU:       cp.CPUSeconds,
		Complete:        true,
	}
	r.OtherCPU = max(machine-r.ServerCPU-r.ClientCPU, 0)
	for i := range after {
		r.Published += after[i] - before[i]
	}
	if elapsed > 0 {
		r.PublishedPerSec = float64(r.Published) / elapsed
		r.WrittenPerSec = float64(r.Written) / elapsed
	}
	if cp.Frames > 0 {
		r.MsgsPerFrame = float64(cp.Deltas) / float64(cp.Frames)
	}
	for i, t := range cp.Topics {
		if t.Clients > 0 && (i >= len(after) || t.MinSeq != after[i]) {
			r.Complete = false
		}
	}
	fmt.Fprintf(log, "  %d/%d delivered, p99 %.2f ms, %.0f delivered/s\n", r.Delivered, r.Expected, r.Latency.P99, r.DeliveredPerSec)
	return r, ctx.Err()
}

// child is the client process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan event
	errc   chan error // the stdout reader's end
}

func startChild(ctx context.Context, o Options, url string, topics []string) (*child, error) {
	for _, t := range topics {
		if strings.Contains(t, ",") {
			return nil, fmt.Errorf("topic %q: a comma cannot be passed in -topics", t)
		}
	}
	args := []string{
		"-url", url, "-clients", strconv.Itoa(o.Clients), "-topics", strings.Join(topics, ","),
		"-dial", strconv.Itoa(o.Dial),
	}
	cmd := o.ClientCommand(args)
	if cmd.Stderr == nil {
		cmd.Stderr = o.ClientStderr
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("client process: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("client process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start client process: %w", err)
	}
	c := &child{cmd: cmd, stdin: stdin, events: make(chan event, 16), errc: make(chan error, 1)}
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if len(line) == 0 || line[0] != '{' {
				continue
			}
			var e event
			if err := json.Unmarshal(line, &e); err != nil {
				c.errc <- fmt.Errorf("client process: %w", err)
				return
			}
			select {
			case c.events <- e:
			case <-ctx.Done():
				return
			}
		}
		c.errc <- sc.Err()
	}()
	return c, nil
}

func (c *child) send(cmd string) error {
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		return fmt.Errorf("client process: %w", err)
	}
	return nil
}

// next waits for the child's next event, which must be of kind.
func (c *child) next(kind string, timeout time.Duration) (event, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case e, ok := <-c.events:
		if !ok {
			err := <-c.errc
			if werr := c.cmd.Wait(); werr != nil {
				err = errors.Join(err, werr)
			}
			return event{}, fmt.Errorf("client process ended before %q: %w", kind, err)
		}
		if e.Event != kind {
			return event{}, fmt.Errorf("client process: got %q, want %q", e.Event, kind)
		}
		if (kind == "connected" || kind == "report") && e.Report == nil || kind == "phase" && e.Phase == nil {
			return event{}, fmt.Errorf("client process: %q without its report", kind)
		}
		return e, nil
	case <-t.C:
		return event{}, fmt.Errorf("client process: no %q within %s", kind, timeout)
	}
}

func (c *child) wait() error {
	if err := c.cmd.Wait(); err != nil {
		return fmt.Errorf("client process: %w", err)
	}
	return nil
}

// kill ends the child if it is still running.
func (c *child) kill() {
	if c.cmd.ProcessState == nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}
