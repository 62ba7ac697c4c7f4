package deploy

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
)

// tool finds a binary the tests need; a missing one fails the test.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (Debian package %s; scripts/test.sh installs it): %v", name, pkg, err)
	}
	return p
}

// unitKeys reads a unit file's [Service] and [Unit] keys; a repeated key
// keeps every value.
func unitKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	section := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not key=value", path, line)
		}
		keys[section+"."+k] = append(keys[section+"."+k], v)
	}
	return keys
}

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit, with
// ExecStart pointed at an executable that exists here; any complaint
// (an unknown key, a bad value) fails.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := tool(t, "systemd-analyze", "systemd")
	unit, err := os.ReadFile("citywall.service")
	if err != nil {
		t.Fatal(err)
	}
	const bin = "/usr/local/bin/citywall"
	if !bytes.Contains(unit, []byte("ExecStart="+bin+" ")) {
		t.Fatalf("citywall.service: ExecStart does not start %s", bin)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "citywall.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte(bin), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify citywall.service: %v\n%s", err, out)
	}

	// A unit with a mistake is refused, so the check above means something.
	bad := filepath.Join(dir, "bad", "citywall.service")
	_ = os.Mkdir(filepath.Dir(bad), 0o755)
	if err := os.WriteFile(bad, append(bytes.ReplaceAll(unit, []byte(bin), []byte(self)), "[Service]\nProtectSystm=strict\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command(analyze, "verify", bad).CombinedOutput(); !bytes.Contains(out, []byte("ProtectSystm")) {
		t.Fatalf("systemd-analyze verify did not name a misspelt key: %s", out)
	}
}

// TestSystemdUnitSettings checks the settings the operator relies on.
func TestSystemdUnitSettings(t *testing.T) {
	keys := unitKeys(t, "citywall.service")
	want := map[string]string{
		"Service.User":                   "citywall",
		"Service.StateDirectory":         "citywall",
		"Service.ConfigurationDirectory": "citywall",
		"Service.Environment":            "CITYWALL_STORAGE_DIR=%S/citywall",
		"Service.NoNewPrivileges":        "yes",
		"Service.ProtectSystem":          "strict",
		"Service.ProtectHome":            "yes",
		"Service.PrivateTmp":             "yes",
		"Service.CapabilityBoundingSet":  "",
		"Service.Restart":                "on-failure",
		"Service.KillSignal":             "SIGTERM",
	}
	for k, v := range want {
		found := false
		for _, got := range keys[k] {
			found = found || got == v
		}
		if !found {
			t.Errorf("citywall.service: %s = %q, want %q", k, keys[k], v)
		}
	}

	// systemd sends SIGKILL after TimeoutStopSec: it must leave the
	// server's graceful stop (server.shutdown_timeout) time to finish, and
	// then the hub's goodbyes and the ingest log's close.
	stop, err := time.ParseDuration(one(t, keys, "Service.TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	if shutdown := config.Default().Server.ShutdownTimeout; stop < 3*shutdown {
		t.Errorf("TimeoutStopSec = %v, want at least 3 × server.shutdown_timeout (%v)", stop, shutdown)
	}
	if n := one(t, keys, "Service.LimitNOFILE"); n != "65536" {
		t.Errorf("LimitNOFILE = %s, want 65536 (one descriptor per WebSocket client and viewer)", n)
	}

	sysusers, err := os.ReadFile("citywall.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sysusers, []byte("\nu citywall ")) {
		t.Errorf("citywall.sysusers does not declare the user citywall:\n%s", sysusers)
	}
}

func one(t *testing.T, keys map[string][]string, k string) string {
	t.Helper()
	if len(keys[k]) != 1 {
		t.Fatalf("citywall.service: %s set %d times, want once", k, len(keys[k]))
	}
	return keys[k][0]
}
