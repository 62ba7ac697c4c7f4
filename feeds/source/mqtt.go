package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/citywall/citywall/feeds"
)

// MQTT subscribes to topics carrying readings (a JSON object, array or
// NDJSON a message) and keeps the connection up. With QoS 1 and a
// SessionExpiry the broker keeps the session while citywall or the link is
// down and delivers what was published meanwhile; a reading is
// acknowledged only after the feed has taken it.
type MQTT struct {
	Name          string
	URL           string // mqtt://host:port, mqtts://host:port
	Topics        []string
	QoS           byte
	ClientID      string
	Username      string
	Password      string
	SessionExpiry time.Duration
	KeepAlive     time.Duration // default 20s
	Sink          Sink
	Log           *slog.Logger
	// Connected, when set, is called on each connection (tests wait on it).
	Connected func()
}

// Run connects and stays connected until ctx ends.
func (m *MQTT) Run(ctx context.Context) error {
	if m.Sink == nil || len(m.Topics) == 0 {
		return errors.New("mqtt: needs a sink and topics")
	}
	u, err := url.Parse(m.URL)
	if err != nil {
		return fmt.Errorf("mqtt url: %w", err)
	}
	switch u.Scheme {
	case "mqtt":
		u.Scheme = "tcp"
	case "mqtts":
		u.Scheme = "tls"
	}
	user := u.User
	u.User = nil
	log := logger(m.Log).With("source", m.Name)
	ka := m.KeepAlive
	if ka <= 0 {
		ka = 20 * time.Second
	}
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     uint16(ka / time.Second),
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         uint32(m.SessionExpiry / time.Second),
		ReconnectBackoff:              autopaho.NewExponentialBackoff(200*time.Millisecond, 10*time.Second, 500*time.Millisecond, 2),
		ConnectTimeout:                10 * time.Second,
		OnConnectionUp: func(cm *autopaho.ConnectionManager, ack *paho.Connack) {
			subs := make([]paho.SubscribeOptions, len(m.Topics))
			for i, t := range m.Topics {
				subs[i] = paho.SubscribeOptions{Topic: t, QoS: m.QoS}
			}
			// Subscribing again is harmless when the broker kept the
			// session, and needed when it did not.
			go func() {
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				if _, err := cm.Subscribe(sctx, &paho.Subscribe{Subscriptions: subs}); err != nil {
					m.Sink.SourceState(m.Name, feeds.SourceError, "subscribe: "+err.Error())
					log.Warn("mqtt subscribe failed", "err", err)
					return
				}
				m.Sink.SourceState(m.Name, feeds.SourceOK, "")
				log.Info("mqtt connected", "session_present", ack.SessionPresent)
				if m.Connected != nil {
					m.Connected()
				}
			}()
		},
		OnConnectionDown: func() bool {
			m.Sink.SourceState(m.Name, feeds.SourceError, "connection lost; reconnecting")
			return true
		},
		OnConnectError: func(err error) {
			m.Sink.SourceState(m.Name, feeds.SourceError, "connect: "+err.Error())
		},
		ClientConfig: paho.ClientConfig{
			ClientID: m.ClientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					m.receive(ctx, log, pr.Packet.Topic, pr.Packet.Payload)
					return true, nil
				},
			},
			OnClientError: func(err error) { log.Debug("mqtt client error", "err", err) },
		},
	}
	if m.Username != "" || m.Password != "" {
		cfg.ConnectUsername, cfg.ConnectPassword = m.Username, []byte(m.Password)
	} else if user != nil {
		pw, _ := user.Password()
		cfg.ConnectUsername, cfg.ConnectPassword = user.Username(), []byte(pw)
	}
	m.Sink.SourceState(m.Name, feeds.SourceConnecting, "")
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	<-ctx.Done()
	dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = cm.Disconnect(dctx)
	<-cm.Done()
	return nil
}

// receive ingests one message; a message that is not JSON is logged and
// acknowledged (redelivering it would not make it readable).
func (m *MQTT) receive(ctx context.Context, log *slog.Logger, topic string, payload []byte) {
	items, err := feeds.DecodeReadings(bytes.NewReader(payload), 0)
	if err != nil {
		log.Warn("mqtt message is not readings", "topic", topic, "err", err)
		return
	}
	out := m.Sink.Ingest(ctx, m.Name, items)
	if _, _, rej, first := count(out); rej > 0 {
		log.Debug("mqtt items rejected", "topic", topic, "rejected", rej, "first", first)
	}
}
