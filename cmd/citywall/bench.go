package main

import (
	"context"
	"errors"
	"os"

	"github.com/citywall/citywall/tools/hubload"
	"github.com/citywall/citywall/tools/ingestload"
	"github.com/citywall/citywall/tools/soak"
	"github.com/citywall/citywall/tools/videoload"
)

func benchCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: citywall bench hub|ingest|video|soak [flags]")
	}
	switch args[0] {
	case "hub":
		return hubload.Main(args[1:], os.Stdout)
	case "hub-clients":
		return hubload.ClientMain(args[1:], os.Stdout)
	case "ingest":
		return ingestload.Main(ctx, args[1:], os.Stdout)
	case "video":
		return videoload.Main(args[1:], os.Stdout)
	case "soak":
		return soak.Main(args[1:], os.Stdout)
	case "video-clients":
		return videoload.ClientMain(args[1:], os.Stdout)
	}
	return errors.New("usage: citywall bench hub|ingest|video|soak [flags]")
}
