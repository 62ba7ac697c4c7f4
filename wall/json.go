package wall

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Durations travel as Go duration strings ("30m") in JSON, as they are
// written in YAML.

func durString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func parseDur(key, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, &Error{Key: key, Value: fmt.Sprintf("%q", s), Reason: "want a duration such as \"30m\""}
	}
	return d, nil
}

// MarshalJSON writes the dwell as a duration string.
func (s Step) MarshalJSON() ([]byte, error) {
	type plain Step
	return json.Marshal(struct {
		plain
		Dwell string `json:"dwell,omitempty"`
	}{plain(s), durString(s.Dwell)})
}

// UnmarshalJSON reads the dwell as a duration string.
func (s *Step) UnmarshalJSON(b []byte) error {
	type plain Step
	var v struct {
		*plain
		Dwell string `json:"dwell"`
	}
	v.plain = (*plain)(s)
	if err := strictJSON(b, &v); err != nil {
		return err
	}
	d, err := parseDur("dwell", v.Dwell)
	s.Dwell = d
	return err
}

// MarshalJSON writes the dwell as a duration string.
func (t Tour) MarshalJSON() ([]byte, error) {
	type plain Tour
	return json.Marshal(struct {
		plain
		Dwell string `json:"dwell,omitempty"`
	}{plain(t), durString(t.Dwell)})
}

// UnmarshalJSON reads the dwell as a duration string.
func (t *Tour) UnmarshalJSON(b []byte) error {
	type plain Tour
	var v struct {
		*plain
		Dwell string `json:"dwell"`
	}
	v.plain = (*plain)(t)
	if err := strictJSON(b, &v); err != nil {
		return err
	}
	d, err := parseDur("dwell", v.Dwell)
	t.Dwell = d
	return err
}

// strictJSON decodes b into v, refusing unknown fields: the API's bodies
// are strict like the YAML configuration.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
