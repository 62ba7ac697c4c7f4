// Command citywall runs the video-wall server of a city service-hotline
// command centre. With no arguments it starts the embedded demo city.
//
//	citywall [-config city.yaml]          serve
//	citywall config check city.yaml       validate a configuration
//	citywall import [flags] FILE          load CSV or Open311 tickets
//	citywall bench hub|ingest [flags]     load tests
//	citywall eval [flags]                 cluster-detection evaluation
//	citywall alerts test-webhook TARGET   try a webhook
//	citywall backup|restore [flags]       back up and restore a data directory
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) { // -h has printed the flags
		fmt.Fprintln(os.Stderr, "citywall:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			return serve(ctx, args[1:])
		case "config":
			return configCmd(args[1:])
		case "import":
			return importCmd(ctx, args[1:])
		case "bench":
			return benchCmd(ctx, args[1:])
		case "eval":
			return evalCmd(ctx, args[1:], os.Stdout)
		case "alerts":
			return alertsCmd(ctx, args[1:], os.Stdout)
		case "backup":
			return backupCmd(ctx, args[1:], os.Stdout)
		case "restore":
			return restoreCmd(args[1:], os.Stdout)
		case "health":
			return healthCmd(args[1:])
		case "version":
			fmt.Println(buildID())
			return nil
		case "help", "-h", "-help", "--help":
			fmt.Print(usage)
			return nil
		}
		if !strings.HasPrefix(args[0], "-") {
			return fmt.Errorf("unknown subcommand %q\n%s", args[0], usage)
		}
	}
	return serve(ctx, args)
}

const usage = `citywall: the video wall of a 12345 / 311 service-hotline command centre

  citywall [-config city.yaml]        serve (no config: the embedded demo city)
  citywall config check FILE          validate a configuration file
  citywall import [flags] FILE        read CSV or Open311 JSON tickets; with -server, post them
  citywall bench hub [flags]          WebSocket hub load test
  citywall bench ingest [flags]       ingest throughput test
  citywall eval [flags]               evaluate cluster detection against two baselines
  citywall alerts test-webhook [-config FILE] TARGET
                                      send a test message to a webhook, print its answer
  citywall backup (-server URL | -data DIR) -out FILE
                                      back up a running instance (admin token in
                                      $CITYWALL_TOKEN) or a stopped one's data directory
  citywall restore -in FILE -data DIR restore a backup into a new or empty data directory
  citywall health [-addr HOST:PORT]   exit 0 when the instance's /healthz answers 200
  citywall version                    print the build id

Run a subcommand with -h for its flags.
`
