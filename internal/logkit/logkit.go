// Package logkit holds what every citywall log line shares: the keys an
// operator filters a journal on, and a slog handler that adds the HTTP
// request id carried by a context to each line logged with it, and the
// component "app" to lines whose logger names no component.
//
// Keys, the same everywhere so one filter finds every line:
//
//	component   the part that logged (hub, storage, alerts, http, video, ...)
//	camera      a camera id
//	alert       an alert id
//	request_id  the X-Request-Id of the HTTP request being served
//	err         the cause of a failure
package logkit

import (
	"context"
	"log/slog"
)

// Keys an operator filters on.
const (
	Component = "component"
	Camera    = "camera"
	Alert     = "alert"
	RequestID = "request_id"
	Err       = "err"
)

// DefaultComponent names lines whose logger set no component: the
// composition root's own (start, stop, data directory, ...).
const DefaultComponent = "app"

type requestKey struct{}

// WithRequestID returns ctx carrying id; a logger wrapped by Wrap adds it
// to every line logged with that context.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestKey{}, id)
}

// RequestIDFrom is the request id ctx carries, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestKey{}).(string)
	return id
}

// Wrap returns h adding the request id and the default component. Wrapping
// twice adds them once.
func Wrap(h slog.Handler) slog.Handler {
	if w, ok := h.(*handler); ok {
		return w
	}
	return &handler{next: h}
}

type handler struct {
	next      slog.Handler
	component bool // a component was set with WithAttrs
	grouped   bool // attributes now go into a group
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	id := RequestIDFrom(ctx)
	needComponent := !h.component && !h.grouped && !hasKey(r, Component)
	if id == "" && !needComponent {
		return h.next.Handle(ctx, r)
	}
	r = r.Clone()
	if needComponent {
		r.AddAttrs(slog.String(Component, DefaultComponent))
	}
	if id != "" {
		r.AddAttrs(slog.String(RequestID, id))
	}
	return h.next.Handle(ctx, r)
}

func hasKey(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	if !h.grouped {
		for _, a := range as {
			if a.Key == Component {
				c.component = true
			}
		}
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	c.grouped = true
	return &c
}
