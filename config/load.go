package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment override: CITYWALL_SERVER_LISTEN sets
// server.listen, CITYWALL_GEO_RESOLUTIONS='[7,8]' sets geo.resolutions.
const EnvPrefix = "CITYWALL_"

// Load reads the YAML file at path over the defaults, applies environment
// overrides and validates the result. An empty path means the embedded demo.
func Load(path string, environ []string) (Config, error) {
	c := Default()
	if path == "" {
		c = DemoCity()
	} else {
		f, err := os.Open(path)
		if err != nil {
			return Config{}, fmt.Errorf("open config: %w", err)
		}
		defer f.Close()
		if err := Decode(f, &c); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := ApplyEnv(&c, environ); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Decode reads strict YAML into c: unknown keys are errors, and so is a
// second document in the same file.
func Decode(r io.Reader, c *Config) error {
	data, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("parse yaml: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("parse yaml: more than one document")
	}
	return nil
}

// EnvError names the variable an override failed on.
type EnvError struct {
	Var string
	Err error
}

func (e *EnvError) Error() string { return fmt.Sprintf("environment %s: %v", e.Var, e.Err) }
func (e *EnvError) Unwrap() error { return e.Err }

// ApplyEnv sets fields from CITYWALL_* variables in environ (os.Environ()
// form). String fields take the value as it is; others parse it as YAML, so
// lists and token records work too. A variable under a section's prefix
// that names no key (CITYWALL_SERVER_LISTN) is an error, like an unknown key
// in the file; other CITYWALL_ variables (CITYWALL_TOKEN for the import
// command) are not configuration and are left alone.
func ApplyEnv(c *Config, environ []string) error {
	fields := map[string]reflect.Value{}
	collectEnv(reflect.ValueOf(c).Elem(), strings.TrimSuffix(EnvPrefix, "_"), fields)
	var sections []string
	t := reflect.TypeOf(*c)
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		sections = append(sections, EnvPrefix+strings.ToUpper(tag)+"_")
	}
	inSection := func(k string) bool {
		for _, p := range sections {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		return false
	}
	var names []string
	vals := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvPrefix) {
			continue
		}
		names = append(names, k)
		vals[k] = v
	}
	sort.Strings(names)
	for _, k := range names {
		f, ok := fields[k]
		if !ok {
			if !inSection(k) {
				continue
			}
			return &EnvError{Var: k, Err: errors.New("no such setting")}
		}
		v := vals[k]
		if f.Kind() == reflect.String {
			f.SetString(v)
			continue
		}
		p := reflect.New(f.Type())
		if err := yaml.Unmarshal([]byte(v), p.Interface()); err != nil {
			return &EnvError{Var: k, Err: fmt.Errorf("parse %q: %w", redactEnv(k, v), err)}
		}
		f.Set(p.Elem())
	}
	return nil
}

// redactEnv keeps tokens, robot keys and webhook secrets out of error
// messages.
func redactEnv(name, v string) string {
	if strings.Contains(name, "TOKEN") || strings.Contains(name, "WEBHOOKS") || strings.Contains(name, "ALERTS_TEAMS") {
		return "<redacted>"
	}
	return v
}

func collectEnv(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			collectEnv(f, name, out)
			continue
		}
		out[name] = f
	}
}
