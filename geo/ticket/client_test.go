package ticket

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClientPost(t *testing.T) {
	var gotAuth, gotType, gotPath string
	var got []Ticket
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotType, gotPath = r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.URL.Path
		items, err := Decode(r.Body, r.Header.Get("Content-Type"))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		res := PostResult{}
		for _, it := range items {
			got = append(got, it.Ticket)
			pi := PostItem{Index: it.Index, ID: it.Ticket.ID, Status: StatusAccepted}
			if it.Err != nil {
				pi.Status, pi.Reason = StatusRejected, it.Err.Error()
				res.Rejected++
			} else {
				res.Accepted++
			}
			res.Items = append(res.Items, pi)
		}
		_ = json.NewEncoder(w).Encode(res)
	}))
	defer srv.Close()

	bad := haikou("HK-2")
	bad.Lat = 95
	c := &Client{URL: srv.URL + "/", Token: "s3cret", HTTP: srv.Client()}
	res, err := c.Post(context.Background(), []Ticket{haikou("HK-1"), bad})
	if err != nil {
		t.Fatal(err)
	}
	if gotAuth != "Bearer s3cret" || gotType != "application/json" || gotPath != "/api/v1/tickets" {
		t.Errorf("request: auth %q, type %q, path %q", gotAuth, gotType, gotPath)
	}
	if len(got) != 2 || got[0].ID != "HK-1" {
		t.Errorf("server got %+v", got)
	}
	if res.Accepted != 1 || res.Rejected != 1 || len(res.Items) != 2 {
		t.Fatalf("result %+v", res)
	}
	if it := res.Items[1]; it.ID != "HK-2" || it.Status != StatusRejected || !strings.HasPrefix(it.Reason, "lat: 95 out of range") {
		t.Errorf("item 1 = %+v", it)
	}
}

func TestClientPostErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		wantCode   string
		wantReason string
	}{
		{"typed", http.StatusUnauthorized, `{"code":"unauthorized","reason":"bad token"}`, "unauthorized", "bad token"},
		{"too large", http.StatusRequestEntityTooLarge, `{"code":"too_large","reason":"body over 8 MiB"}`, "too_large", "body over 8 MiB"},
		{"plain text", http.StatusBadGateway, "upstream down\n", "", "upstream down"},
		{"empty", http.StatusInternalServerError, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			_, err := (&Client{URL: srv.URL}).Post(context.Background(), []Ticket{haikou("HK-1")})
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if ae.StatusCode != tt.status || ae.Code != tt.wantCode || ae.Reason != tt.wantReason {
				t.Errorf("APIError %+v", ae)
			}
		})
	}
}

func TestClientPostBadAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>"))
	}))
	defer srv.Close()
	if _, err := (&Client{URL: srv.URL}).Post(context.Background(), nil); err == nil {
		t.Error("no error for an answer that is not JSON")
	}
	srv.Close()
	if _, err := (&Client{URL: srv.URL}).Post(context.Background(), nil); err == nil {
		t.Error("no error for a closed server")
	}
}
