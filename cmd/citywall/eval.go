package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/citywall/citywall/alerts/scan"
	"github.com/citywall/citywall/tools/eval"
)

// evalCmd runs the cluster-detection evaluation behind BENCHMARKS.md.
func evalCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("citywall eval", flag.ContinueOnError)
	perDay := fs.Float64("per-day", 2000, "background tickets a day")
	train := fs.Float64("train-weeks", 3, "weeks of history the baseline learns from")
	calib := fs.Float64("calibrate-weeks", 8, "simulated weeks the thresholds are calibrated on")
	test := fs.Float64("test-weeks", 16, "weeks clusters are injected into")
	fa := fs.Float64("false-alarms", 0.25, "target false cluster alerts a week, for every method (with -hot: the cluster scan run beside the hot-issue detectors; negative: not run)")
	seed := fs.Int64("seed", 1, "random seed")
	step := fs.Duration("step", time.Minute, "scan interval")
	minCount := fs.Int("min-count", 5, "fewest tickets a cluster needs")
	asJSON := fs.Bool("json", false, "print JSON instead of Markdown")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	hot := fs.Bool("hot", false, "evaluate the hot-issue detectors (surges, weekly rises, phrases) instead of the cluster scan")
	hotFA := fs.Float64("hot-false-alarms", 0.5, "with -hot: target false alerts a week of all hot-issue kinds together")
	perWeek := fs.Int("per-week", 3, "with -hot: events of each scenario injected a week")
	trace := fs.Bool("trace", false, "with -hot: on stderr, each false alert and each event found or missed, with its scores")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *hot {
		cfg := eval.HotConfig{PerDay: *perDay, TrainWeeks: max(*train, 4), CalibrateWeeks: min(*calib, 4),
			TestWeeks: min(*test, 6), FalseAlarmsPerWeek: *hotFA, ClusterFalseAlarmsPerWeek: *fa, PerWeek: *perWeek, Seed: *seed}
		if *trace {
			cfg.Trace = os.Stderr
		}
		return evalHot(ctx, out, *asJSON, *quiet, cfg)
	}
	cfg := eval.Config{PerDay: *perDay, TrainWeeks: *train, CalibrateWeeks: *calib, TestWeeks: *test,
		FalseAlarmsPerWeek: *fa, Seed: *seed, Step: *step, Scan: scan.Options{MinCount: *minCount}}
	if !*quiet {
		cfg.Progress = os.Stderr
	}
	rep, err := eval.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(out, "citywall eval -per-day %g -train-weeks %g -calibrate-weeks %g -test-weeks %g -false-alarms %g -seed %d -step %s -min-count %d\n\n",
		*perDay, *train, *calib, *test, *fa, *seed, *step, *minCount)
	rep.Write(out)
	return nil
}

// evalHot runs the hot-issue evaluation behind BENCHMARKS.md.
func evalHot(ctx context.Context, out io.Writer, asJSON, quiet bool, cfg eval.HotConfig) error {
	if !quiet {
		cfg.Progress = os.Stderr
	}
	rep, err := eval.RunHot(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(out, "citywall eval -hot -per-day %g -train-weeks %g -calibrate-weeks %g -test-weeks %g -hot-false-alarms %g -false-alarms %g -per-week %d -seed %d\n\n",
		cfg.PerDay, cfg.TrainWeeks, cfg.CalibrateWeeks, cfg.TestWeeks, cfg.FalseAlarmsPerWeek, cfg.ClusterFalseAlarmsPerWeek, cfg.PerWeek, cfg.Seed)
	rep.Write(out)
	return nil
}
