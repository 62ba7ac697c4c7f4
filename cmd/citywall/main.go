// Command citywall runs the video-wall server of a city service-hotline
// command centre. With no arguments it starts the embedded demo city.
//
//	citywall [-config city.yaml]          serve
//	citywall config check city.yaml       validate a configuration
//	citywall import [flags] FILE          load CSV or Open311 tickets
//	citywall bench hub|ingest [flags]     load tests
//	citywall eval [flags]                 cluster-detection evaluation
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
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
		case "version":
			fmt.Println(buildID())
			return nil
		case "help", "-h", "-help", "--help":
			fmt.Print(usage)
			return nil
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
  citywall version                    print the build id

Run a subcommand with -h for its flags.
`
