package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/citywall/citywall/config"
)

// TestConfiguredMQTTSource starts a private Mosquitto on a free port and an
// App whose config subscribes to it: a reading published with QoS 1
// reaches feeds/flood and the source shows as ok.
func TestConfiguredMQTTSource(t *testing.T) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("mosquitto not found: this test needs Debian's mosquitto package: apt-get install mosquitto")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	me := "root"
	if u, err := user.Current(); err == nil {
		me = u.Username
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "user %s\nlistener %d 127.0.0.1\nallow_anonymous true\n", me, port), 0o644); err != nil {
		t.Fatal(err)
	}
	broker := exec.Command(bin, "-c", conf)
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = broker.Process.Signal(syscall.SIGTERM); _ = broker.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	eventually(t, "mosquitto listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	s := startServer(t, func(c *config.Config) {
		feedStations(c)
		c.Feeds.Sources = []config.FeedSource{{Name: "sensors", Type: "mqtt", URL: "mqtt://" + addr, Topics: []string{"city/sensors/#"},
			QoS: 1, ClientID: "citywall-web-test", SessionExpiry: time.Hour}}
	})
	ws := s.connect(s.tokens[config.RoleWall])
	ws.subscribe("feeds/flood")
	ws.until("the source connected", func() bool {
		var src struct{ State string }
		_ = json.Unmarshal(ws.state["feeds/flood"]["source:sensors"], &src)
		return src.State == "ok"
	})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pub := paho.NewClient(paho.ClientConfig{Conn: conn, ClientID: "web-test-pub"})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := pub.Connect(ctx, &paho.Connect{ClientID: "web-test-pub", KeepAlive: 30, CleanStart: true}); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"station":"wl-a","time":%q,"depth":0.31,"unit":"m"}`, time.Now().UTC().Format(time.RFC3339))
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "city/sensors/wl-a", QoS: 1, Payload: []byte(body)}); err != nil {
		t.Fatal(err)
	}
	_ = pub.Disconnect(&paho.Disconnect{})
	ws.until("the MQTT reading on feeds/flood", func() bool {
		var v struct {
			Value  float64
			State  string
			Source string
		}
		_ = json.Unmarshal(ws.state["feeds/flood"]["wl-a"], &v)
		return v.Value == 31 && v.State == "danger" && v.Source == "sensors"
	})
}
