package source_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/source"
	"github.com/citywall/citywall/internal/testkit"
)

// broker is a private Mosquitto on a free loopback port, with persistence,
// so it can be restarted and keep its sessions.
type broker struct {
	t    testing.TB
	dir  string
	port int
	cmd  *exec.Cmd
}

func startBroker(t testing.TB) *broker {
	t.Helper()
	if _, err := exec.LookPath("mosquitto"); err != nil {
		if _, err2 := os.Stat("/usr/sbin/mosquitto"); err2 != nil {
			t.Fatalf("mosquitto not found (%v): this test needs Debian's mosquitto package: apt-get install mosquitto", err)
		}
	}
	b := &broker{t: t, dir: t.TempDir(), port: testkit.FreePort(t)}
	// Run as root, Mosquitto drops to the user "mosquitto", which could
	// not write to the test's directory: stay the test's own user.
	me := "root"
	if u, err := user.Current(); err == nil {
		me = u.Username
	}
	conf := fmt.Sprintf("user %s\nlistener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nlog_dest file %s/mosquitto.log\nmax_queued_messages 10000\nlog_type all\n",
		me, b.port, b.dir, b.dir)
	if err := os.WriteFile(filepath.Join(b.dir, "mosquitto.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func mosquittoPath() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	return "/usr/sbin/mosquitto"
}

func (b *broker) start() {
	b.t.Helper()
	b.cmd = exec.Command(mosquittoPath(), "-c", filepath.Join(b.dir, "mosquitto.conf"))
	if err := b.cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", b.addr())
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.log"))
			b.t.Fatalf("mosquitto did not listen on %s: %v\n%s", b.addr(), err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the broker gracefully: Mosquitto writes its sessions and
// queued messages to disk on SIGTERM.
func (b *broker) stop() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	_ = b.cmd.Wait()
	b.cmd = nil
}

func (b *broker) addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// proxy stands between the subscriber and the broker, so the test can cut
// the subscriber off while readings are published.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, addr: fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)), target: target}
	p.up()
	t.Cleanup(p.down)
	return p
}

func (p *proxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// publish sends readings n..m-1 with QoS 1, each acknowledged by the
// broker before the next.
func publish(t *testing.T, addr string, base time.Time, from, to int) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn, ClientID: fmt.Sprintf("pub-%d", from)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: fmt.Sprintf("pub-%d", from), KeepAlive: 30, CleanStart: true}); err != nil {
		t.Fatalf("publisher connect: %v", err)
	}
	for i := from; i < to; i++ {
		body := fmt.Sprintf(`{"station":"wl-a","time":%q,"depth":%d,"unit":"cm"}`, base.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i)
		if _, err := c.Publish(ctx, &paho.Publish{Topic: "sensors/wl-a", QoS: 1, Payload: []byte(body)}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
}

// TestMQTTBrokerRestart subscribes with QoS 1 and a persistent session
// through a proxy, cuts the subscriber off, publishes, restarts the
// broker, publishes again, and lets the subscriber back: every reading
// published with QoS 1 reaches the feed.
func TestMQTTBrokerRestart(t *testing.T) {
	b := startBroker(t)
	px := newProxy(t, b.addr())
	f, err := feeds.New(feeds.Options{Stations: []feeds.Station{testStation(time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	f.AddSource("sensors", "mqtt", 0)
	var ups atomic.Int32
	m := &source.MQTT{Name: "sensors", URL: "mqtt://" + px.addr, Topics: []string{"sensors/#"}, QoS: 1,
		ClientID: "citywall-test", SessionExpiry: time.Hour, KeepAlive: 2 * time.Second, Sink: f,
		Connected: func() { ups.Add(1) }}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := m.Run(ctx); err != nil {
			t.Errorf("mqtt run: %v", err)
		}
	})
	defer func() { cancel(); wg.Wait() }()
	eventually(t, "the subscription", 10*time.Second, func() bool { return ups.Load() == 1 })

	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	count := func() int { _, pts, _ := f.History("wl-a", base.Add(-time.Minute)); return len(pts) }

	publish(t, b.addr(), base, 0, 20)
	eventually(t, "the first 20 readings", 10*time.Second, func() bool { return count() == 20 })

	px.down() // the subscriber is cut off
	eventually(t, "the error state", 10*time.Second, func() bool { s, _, _ := sourceState(f, "sensors"); return s == feeds.SourceError })
	publish(t, b.addr(), base, 20, 40) // queued by the broker for the offline session
	b.stop()
	b.start()                          // the broker restarts from its persistence file
	publish(t, b.addr(), base, 40, 60) // queued after the restart too
	if n := count(); n != 20 {
		t.Fatalf("%d readings while cut off", n)
	}
	px.up()
	deadline := time.Now().Add(20 * time.Second)
	for count() != 60 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := count(); n != 60 {
		log, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.log"))
		t.Fatalf("%d of 60 readings after the reconnect (connections: %d)\nbroker log:\n%s", n, ups.Load(), log)
	}
	_, pts, _ := f.History("wl-a", base.Add(-time.Minute))
	for i, p := range pts {
		if p.V != float64(i) || p.T != base.Add(time.Duration(i)*time.Second).UnixMilli() {
			t.Fatalf("reading %d is %+v", i, p)
		}
	}
	if s, _, _ := sourceState(f, "sensors"); s != feeds.SourceOK {
		t.Errorf("source state %q after reconnect", s)
	}
	if st := f.Stats(); st.Accepted != 60 || st.Rejected != 0 {
		t.Errorf("stats %+v: a QoS 1 redelivery may be a duplicate, never a loss", st)
	}
}
