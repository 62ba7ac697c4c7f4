package ticket

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// TicketsPath is where the server takes posted tickets.
const TicketsPath = "/api/v1/tickets"

// PostStatus is the outcome of one posted ticket.
type PostStatus string

// Outcomes of a posted ticket.
const (
	StatusAccepted  PostStatus = "accepted"
	StatusDuplicate PostStatus = "duplicate" // a retry of a ticket held already
	StatusRejected  PostStatus = "rejected"
)

// PostResult is the server's answer to a post of tickets.
type PostResult struct {
	Accepted   int        `json:"accepted"`
	Duplicates int        `json:"duplicates"`
	Rejected   int        `json:"rejected"`
	Items      []PostItem `json:"items"`
}

// PostItem is the outcome of one ticket of a post.
type PostItem struct {
	Index  int        `json:"index"` // position in the posted body, from 0
	ID     string     `json:"id,omitempty"`
	Status PostStatus `json:"status"`
	Reason string     `json:"reason,omitempty"` // why it was rejected
}

// APIError is a non-2xx answer of the server, with its {code, reason} body.
type APIError struct {
	StatusCode int    `json:"-"` // HTTP status
	Code       string `json:"code"`
	Reason     string `json:"reason"`
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("server answered %d: %s", e.StatusCode, e.Reason)
	}
	return fmt.Sprintf("server answered %d %s: %s", e.StatusCode, e.Code, e.Reason)
}

// maxAnswerBytes bounds what the client reads of an answer: a PostResult of
// DefaultMaxItems items is well under it.
const maxAnswerBytes = 16 << 20

// Client posts tickets to a citywall server.
type Client struct {
	URL   string       // the server's base URL, e.g. http://wall:8080
	Token string       // sent as a bearer token when set
	HTTP  *http.Client // nil means http.DefaultClient
}

// Post sends tickets as one JSON array. A non-2xx answer is an *APIError.
func (c *Client) Post(ctx context.Context, tickets []Ticket) (*PostResult, error) {
	body, err := json.Marshal(tickets)
	if err != nil {
		return nil, fmt.Errorf("encode tickets: %w", err)
	}
	url := strings.TrimRight(c.URL, "/") + TicketsPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("post tickets: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post tickets: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return nil, fmt.Errorf("read answer to post: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &APIError{StatusCode: resp.StatusCode}
		if json.Unmarshal(answer, apiErr) != nil || (apiErr.Code == "" && apiErr.Reason == "") {
			apiErr.Code = ""
			apiErr.Reason = shown(strings.TrimSpace(string(answer)))
		}
		return nil, fmt.Errorf("post %d tickets: %w", len(tickets), apiErr)
	}
	var res PostResult
	if err := json.Unmarshal(answer, &res); err != nil {
		return nil, fmt.Errorf("decode answer to post: %w", err)
	}
	return &res, nil
}
