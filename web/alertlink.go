package web

import (
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"unicode"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/actionlink"
	"github.com/citywall/citywall/internal/logkit"
)

// Error codes of the link API.
const (
	codeLinkInvalid = "link_invalid" // not a link of this centre, or for another alert or action
	codeLinkExpired = "link_expired"
	codeLinkUsed    = "link_used" // this link has already done this action
)

// LinkRequest is the body of POST /api/v1/link/alerts/{id}/ack and
// …/resolve: the link's token, and who acts (shown as link:NAME).
type LinkRequest struct {
	Token  string `json:"token"`
	Name   string `json:"name,omitempty"`
	Note   string `json:"note,omitempty"`   // ack
	Reason string `json:"reason,omitempty"` // resolve: required
}

// linkRoutes serves the links alert messages carry: the page and its API
// take the link's token instead of a session.
func (s *Server) linkRoutes(mux *http.ServeMux, static fs.FS) {
	mux.HandleFunc("GET /team-link", func(w http.ResponseWriter, r *http.Request) {
		data, err := fs.ReadFile(static, "team-link.html")
		if err != nil {
			writeError(w, http.StatusNotFound, codeNotFound, "page not built in")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer") // the token is in the address
		_, _ = w.Write(data)
	})
	mux.HandleFunc("GET /api/v1/link/alerts/{id}", s.withLinks(s.handleLinkAlert))
	mux.HandleFunc("POST /api/v1/link/alerts/{id}/{action}", s.withLinks(s.handleLinkAction))
}

func (s *Server) withLinks(f func(al *Alerts, w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return s.withAlerting(func(al *Alerts, w http.ResponseWriter, r *http.Request) {
		if al.Links == nil {
			writeError(w, http.StatusNotFound, codeNotFound, "alert links are off (server.public_url is not set)")
			return
		}
		w.Header().Set("Referrer-Policy", "no-referrer")
		f(al, w, r)
	})
}

// handleLinkAlert shows the link's alert; the token comes as ?token=.
func (s *Server) handleLinkAlert(al *Alerts, w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := al.Links.Check(r.Context(), r.URL.Query().Get("token"), id, ""); err != nil {
		s.linkError(w, err)
		return
	}
	x, ok := al.Manager.Get(id)
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "no such alert")
		return
	}
	writeJSON(w, http.StatusOK, x)
}

// handleLinkAction acknowledges or resolves the link's alert, once per
// link and action.
func (s *Server) handleLinkAction(al *Alerts, w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	data, ok := readAlertBody(w, r)
	if !ok {
		return
	}
	var req LinkRequest
	if err := decodeStrict(data, &req, false); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	by, err := linkActor(req.Name)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	// What cannot succeed is refused before the link is used up.
	req.Reason = strings.TrimSpace(req.Reason)
	if action == actionlink.ActionResolve && req.Reason == "" {
		s.lifecycleError(w, alerts.ErrReasonRequired)
		return
	}
	if len(req.Note) > 2000 || len(req.Reason) > 2000 {
		writeError(w, http.StatusBadRequest, codeBadRequest, "note, reason: at most 2000 bytes")
		return
	}
	if c, err := al.Links.Read(req.Token); err != nil || c.Alert != id {
		if err == nil {
			err = actionlink.ErrOtherAlert
		}
		s.linkError(w, err)
		return
	}
	x, found := al.Manager.Get(id)
	switch {
	case !found:
		writeError(w, http.StatusNotFound, codeNotFound, "no such alert")
		return
	case action == actionlink.ActionAck && x.State != alerts.StateFiring, action == actionlink.ActionResolve && !x.Open():
		writeError(w, http.StatusConflict, codeConflict, "the alert is "+string(x.State))
		return
	}
	if _, err := al.Links.Check(r.Context(), req.Token, id, action); err != nil {
		s.linkError(w, err)
		return
	}
	if action == actionlink.ActionAck {
		x, err = al.Manager.Ack(r.Context(), id, by, req.Note)
	} else {
		x, err = al.Manager.Resolve(r.Context(), id, by, req.Reason)
	}
	if err != nil {
		s.lifecycleError(w, err)
		return
	}
	s.httpLog.InfoContext(r.Context(), "alert handled through a link", logkit.Alert, id, "action", action, "by", by)
	writeJSON(w, http.StatusOK, x)
}

// linkActor is who the alert shows as having acted: link, or link:NAME
// with the name the person gave.
func linkActor(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "link", nil
	}
	if len([]rune(name)) > 40 || strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) }) >= 0 {
		return "", errors.New("name: at most 40 characters, no control characters")
	}
	return "link:" + name, nil
}

func (s *Server) linkError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, actionlink.ErrExpired):
		writeError(w, http.StatusForbidden, codeLinkExpired, err.Error())
	case errors.Is(err, actionlink.ErrUsed):
		writeError(w, http.StatusConflict, codeLinkUsed, err.Error())
	case errors.Is(err, actionlink.ErrInvalid), errors.Is(err, actionlink.ErrOtherAlert), errors.Is(err, actionlink.ErrAction):
		writeError(w, http.StatusForbidden, codeLinkInvalid, err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, err.Error())
	}
}
