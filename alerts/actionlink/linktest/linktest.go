// Package linktest is the contract every actionlink.Store keeps, run by
// each store's tests.
package linktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/citywall/citywall/alerts/actionlink"
)

// Contract checks the stores open() returns: each call opens the same
// backing state again (a restart, or another instance), so a key and a
// use recorded through one are seen through the next.
func Contract(t *testing.T, open func(t *testing.T) actionlink.Store) {
	ctx := context.Background()
	a := open(t)
	la, err := actionlink.New(ctx, a, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := la.Token("A1")
	lb, err := actionlink.New(ctx, open(t), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lb.Check(ctx, tok, "A1", ""); err != nil {
		t.Fatalf("a link made through one store is not valid through the other: %v", err)
	}
	if _, err := la.Check(ctx, tok, "A1", actionlink.ActionAck); err != nil {
		t.Fatalf("first ack: %v", err)
	}
	c := open(t)
	lc, err := actionlink.New(ctx, c, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lc.Check(ctx, tok, "A1", actionlink.ActionAck); !errors.Is(err, actionlink.ErrUsed) {
		t.Errorf("second ack, through a store opened after: %v, want ErrUsed", err)
	}
	if _, err := lc.Check(ctx, tok, "A1", actionlink.ActionResolve); err != nil {
		t.Errorf("resolve after ack: %v (each action once)", err)
	}
	if _, err := lc.Check(ctx, la.Token("A1"), "A1", actionlink.ActionAck); err != nil {
		t.Errorf("a new link for the same alert: %v", err)
	}
}
