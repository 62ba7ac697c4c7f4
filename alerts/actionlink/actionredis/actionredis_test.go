package actionredis_test

import (
	"testing"

	"github.com/citywall/citywall/alerts/actionlink"
	"github.com/citywall/citywall/alerts/actionlink/actionredis"
	"github.com/citywall/citywall/alerts/actionlink/linktest"
	"github.com/citywall/citywall/cluster/redistest"
)

// TestStore: several instances on one Redis share the key and the used
// links.
func TestStore(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	linktest.Contract(t, func(t *testing.T) actionlink.Store {
		return actionredis.New(redistest.Client(t, addr), prefix)
	})
}
