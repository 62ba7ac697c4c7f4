package app

import (
	"context"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/actionlink"
)

// linkTTL is how long a link in an alert message works. Re-notifications
// and escalations carry fresh links; a resolved alert refuses any.
const linkTTL = 24 * time.Hour

// alertLinksOptions are what the links are built from.
type alertLinksOptions struct {
	PublicURL string           // server.public_url; "": no links
	StateFile string           // alerts.state_file; the used links are kept beside it
	Shared    actionlink.Store // Redis's, shared by the instances; nil alone
	Log       *slog.Logger
}

// newAlertLinks makes the links alert messages carry back to the team
// page, when server.public_url says where people reach the server. The
// key and the used links are kept with the alerts: in Redis with several
// instances, beside alerts.state_file alone, else in memory.
func newAlertLinks(o alertLinksOptions) (*actionlink.Links, func(alerts.Alert) string, error) {
	base := strings.TrimSuffix(o.PublicURL, "/")
	if base == "" {
		o.Log.Info("server.public_url is not set: alert messages carry no link back to the team page")
		return nil, nil, nil
	}
	st := o.Shared
	switch stateFile := o.StateFile; {
	case st != nil:
	case stateFile != "":
		fs, err := actionlink.NewFileStore(strings.TrimSuffix(stateFile, filepath.Ext(stateFile))+".links.json", nil)
		if err != nil {
			return nil, nil, err
		}
		st = fs
	default:
		o.Log.Warn("alerts.state_file is not set: the links in alert messages stop working on a restart")
		st = &actionlink.MemoryStore{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	links, err := actionlink.New(ctx, st, linkTTL, nil)
	if err != nil {
		return nil, nil, err
	}
	link := func(x alerts.Alert) string {
		return base + "/team-link?a=" + url.QueryEscape(x.ID) + "&t=" + links.Token(x.ID)
	}
	return links, link, nil
}
