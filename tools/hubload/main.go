package hubload

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Main runs `citywall bench hub`: the hub in this process, the clients in
// a child process, and a report on stdout.
func Main(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench hub", flag.ContinueOnError)
	var o Options
	fs.IntVar(&o.Clients, "clients", 1000, "WebSocket connections")
	fs.IntVar(&o.Topics, "topics", 25, "heat topics the clients are spread over")
	fs.Float64Var(&o.Rate, "rate", 100, "deltas per second over all topics in the steady phase")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "steady phase")
	fs.DurationVar(&o.Saturate, "saturate", 0, "saturation phase (0: skip)")
	fs.IntVar(&o.Window, "window", 16, "saturation: messages in flight per client")
	fs.IntVar(&o.Publishers, "publishers", 1, "saturation: publishing goroutines, each with its share of the topics")
	fs.IntVar(&o.Dial, "dial", 64, "dials in flight at once")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the server process over the phases")
	fs.StringVar(&o.MemProfile, "memprofile", "", "write a heap profile of the server process with the clients idle (samples every allocation, which adds to the memory figures)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("q", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench hub: unexpected argument %q", fs.Arg(0))
	}
	o.ClientStderr = os.Stderr
	if !*quiet {
		o.Log = os.Stderr
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		return fmt.Errorf("bench hub: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(stdout)
}

// ClientMain runs `citywall bench hub-clients`, the child process of Main:
// it takes commands on stdin and writes events, one JSON line each, on
// stdout, the last being {"event":"report",...}.
func ClientMain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench hub-clients", flag.ContinueOnError)
	var o ClientOptions
	var topics string
	fs.StringVar(&o.URL, "url", "", "the hub's ws:// URL")
	fs.IntVar(&o.Clients, "clients", 1000, "WebSocket connections")
	fs.StringVar(&topics, "topics", strings.Join(HeatTopics(25), ","), "comma-separated topics; client i takes the i-th modulo their number")
	fs.IntVar(&o.Dial, "dial", 64, "dials in flight at once")
	fs.DurationVar(&o.Quiet, "quiet", 2*time.Second, "how long a phase's end waits for a straggler")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Topics = strings.Split(topics, ",")
	o.Control = os.Stdin
	o.Events = stdout
	rep, err := RunClients(context.Background(), o)
	if err != nil {
		return fmt.Errorf("bench hub-clients: %w", err)
	}
	b, err := json.Marshal(event{Event: "report", Report: rep})
	if err != nil {
		return err
	}
	_, err = stdout.Write(append(b, '\n'))
	return err
}

// WriteText prints the report as aligned tables.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "cpu\t%s (GOMAXPROCS %d, %s)\n", r.CPU, r.Procs, r.GoVersion)
	fmt.Fprintf(tw, "clients\t%d on %d topics, %d connected in %.1fs, %d failed\n", r.Clients, r.Topics, r.Connected, r.ConnectSeconds, r.DialErrors)
	if r.FirstError != "" {
		fmt.Fprintf(tw, "first error\t%s\n", r.FirstError)
	}
	i := r.Idle
	fmt.Fprintf(tw, "idle memory\t%d connections: RSS %s → %s (%.1f KiB/conn), heap %s → %s (%.1f KiB/conn), stacks %.1f KiB/conn, %.1f goroutines/conn\n",
		i.Connections, kb(i.Before.RSS), kb(i.After.RSS), i.RSSPerConn/1024, kb(i.Before.HeapAlloc), kb(i.After.HeapAlloc), i.HeapPerConn/1024,
		i.StackPerConn/1024, i.GoroutinesPerConn)
	fmt.Fprintf(tw, "disconnects\t%d %v, protocol errors %d\n", r.Disconnects, r.CloseCodes, r.ProtocolErrors)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "phase\tsecs\tpublished/s\tdelivered/expected\tdelivered/s\twritten/s\tmsgs/frame\tgaps\tcomplete\tslow\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\tserver cpu\tclient cpu\tother cpu\t")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%d/%d\t%.0f\t%.0f\t%.1f\t%d\t%t\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f%%\t%.0f%%\t%.0f%%\t\n",
			p.Name, p.Seconds, p.PublishedPerSec, p.Delivered, p.Expected, p.DeliveredPerSec, p.WrittenPerSec, p.MsgsPerFrame,
			p.Gaps, p.Complete, p.SlowDisconnects, p.Latency.P50, p.Latency.P99, p.Latency.P999, p.Latency.Max,
			100*p.ServerCPU/p.Seconds, 100*p.ClientCPU/p.Seconds, 100*p.OtherCPU/p.Seconds)
	}
	fmt.Fprintln(tw, "(cpu: percent of one core over the publishing time; the machine has", runtime.NumCPU(), "cores)")
	return tw.Flush()
}
