package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
)

// TestContainerfile reads deploy/Containerfile (TestContainerImageBuilds
// builds it): with the default base images, a CGO build stage and a Debian slim
// runtime with ffmpeg, a non-root user, the data directory as a volume
// and where storage.dir points, the default port exposed, and a health
// check through `citywall health`, which exists.
func TestContainerfile(t *testing.T) {
	b, err := os.ReadFile("../../deploy/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	var from, runs, users, volumes, exposes, health, env []string
	args := map[string]string{}
	var cont string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, cont = cont+line, ""
		op, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(op) {
		case "ARG":
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case "FROM":
			from = append(from, os.Expand(rest, func(k string) string { return args[k] }))
		case "RUN":
			runs = append(runs, rest)
		case "USER":
			users = append(users, rest)
		case "VOLUME":
			volumes = append(volumes, rest)
		case "EXPOSE":
			exposes = append(exposes, rest)
		case "HEALTHCHECK":
			health = append(health, rest)
		case "ENV":
			env = append(env, strings.Fields(rest)...)
		}
	}
	if len(from) != 2 || !strings.Contains(from[0], "golang") || !strings.HasSuffix(from[0], " AS build") || !strings.Contains(from[1], "debian") || !strings.Contains(from[1], "slim") {
		t.Errorf("stages %q: want a golang build stage and a debian slim runtime", from)
	}
	build := slices.IndexFunc(runs, func(r string) bool { return strings.Contains(r, "go build") })
	if build < 0 || !strings.Contains(runs[build], "CGO_ENABLED=1") || !strings.Contains(runs[build], "./cmd/citywall") {
		t.Errorf("no CGO build of ./cmd/citywall in %q", runs)
	}
	if !slices.ContainsFunc(runs, func(r string) bool { return strings.Contains(r, "ffmpeg") }) {
		t.Error("ffmpeg is not installed in the runtime")
	}
	if len(users) != 1 || users[0] == "root" || users[0] == "0" {
		t.Errorf("USER %q: want one non-root user", users)
	}
	if !slices.Contains(volumes, "/var/lib/citywall") || !slices.Contains(env, "CITYWALL_STORAGE_DIR=/var/lib/citywall") {
		t.Errorf("volumes %q, env %q: the data directory must be the volume", volumes, env)
	}
	_, port, _ := net.SplitHostPort(config.Default().Server.Listen)
	if !slices.Contains(exposes, port) || !slices.Contains(env, "CITYWALL_SERVER_LISTEN=0.0.0.0:"+port) {
		t.Errorf("EXPOSE %q, env %q: want the default port %s, listened on every address", exposes, env, port)
	}
	if len(health) != 1 || !strings.Contains(health[0], `"citywall", "health", "-addr", "127.0.0.1:`+port+`"`) {
		t.Errorf("HEALTHCHECK %q", health)
	}
	if err := healthCmd([]string{"-addr", "127.0.0.1:1"}); err == nil {
		t.Error("health of nothing listening succeeded")
	}
}

// TestContainerImageBuilds builds deploy/Containerfile with buildah and
// runs what it built. No registry is reachable from the test machines, so
// the two base images the Containerfile takes as arguments are made here
// from Debian's packages: debootstrap's minbase bookworm for the runtime,
// and the same with gcc, libc6-dev and this machine's Go toolchain for the
// build. They stay in buildah's storage under a name that hashes their
// inputs, so only a fresh machine (or a new Go) makes them again; buildah's
// layer cache keeps the runtime's apt step and the Containerfile's cache
// mounts keep Go's module and build caches between runs.
//
// buildah runs with chroot isolation: the default OCI runtime (crun) cannot
// create a container on this machine ("cgroups in hybrid mode not
// supported"), and chroot isolation shares the host's network, which is how
// the server started from the image is reached.
func TestContainerImageBuilds(t *testing.T) {
	for _, tool := range []string{"buildah", "debootstrap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: the image is built by buildah from base images made by debootstrap (apt-get install buildah debootstrap; scripts/test.sh does)", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Fatal("building the image needs root (debootstrap, buildah's chroot isolation)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cpu0 := childCPU()
	runtimeImage := debianBase(t)
	goImage := goBase(t, runtimeImage)
	t.Logf("base images %s, %s ready in %s", runtimeImage, goImage, time.Since(start).Round(time.Second))

	built := time.Now()
	iid := filepath.Join(t.TempDir(), "iid")
	buildah(t, "bud", "--isolation", "chroot", "--layers", "--format", "docker",
		"--build-arg", "GO_IMAGE="+goImage, "--build-arg", "RUNTIME_IMAGE="+runtimeImage,
		"--iidfile", iid, "-f", filepath.Join(root, "deploy/Containerfile"), root)
	id, err := os.ReadFile(iid)
	if err != nil {
		t.Fatal(err)
	}
	image := strings.TrimSpace(string(id))
	t.Logf("buildah bud: %s; image %.19s", time.Since(built).Round(time.Second), image)

	var inspect struct {
		Docker struct {
			Config struct {
				User         string
				ExposedPorts map[string]struct{}
				Env          []string
				Volumes      map[string]struct{}
				Entrypoint   []string
				Healthcheck  *struct{ Test []string }
			} `json:"config"`
		}
	}
	if err := json.Unmarshal([]byte(buildah(t, "inspect", "--type", "image", image)), &inspect); err != nil {
		t.Fatal(err)
	}
	cfg := inspect.Docker.Config
	_, port, _ := net.SplitHostPort(config.Default().Server.Listen)
	if cfg.User != "10001:10001" {
		t.Errorf("user %q, want 10001:10001", cfg.User)
	}
	if _, ok := cfg.ExposedPorts[port+"/tcp"]; !ok || len(cfg.ExposedPorts) != 1 {
		t.Errorf("exposed %v, want %s/tcp", cfg.ExposedPorts, port)
	}
	if _, ok := cfg.Volumes["/var/lib/citywall"]; !ok || len(cfg.Volumes) != 1 {
		t.Errorf("volumes %v, want /var/lib/citywall", cfg.Volumes)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"citywall"}) {
		t.Errorf("entrypoint %q", cfg.Entrypoint)
	}
	if cfg.Healthcheck == nil || !slices.Equal(cfg.Healthcheck.Test, []string{"CMD", "citywall", "health", "-addr", "127.0.0.1:" + port}) {
		t.Errorf("health check %+v", cfg.Healthcheck)
	}

	ctr := strings.TrimSpace(buildah(t, "from", "--pull-never", image))
	t.Cleanup(func() { exec.Command("buildah", "rm", ctr).Run() })
	run := func(args ...string) string {
		return buildah(t, append([]string{"run", "--isolation", "chroot", ctr, "--"}, args...)...)
	}
	if id := run("id", "-u"); strings.TrimSpace(id) != "10001" {
		t.Errorf("runs as uid %q, want 10001", id)
	}
	if v := run("ffmpeg", "-hide_banner", "-version"); !strings.HasPrefix(v, "ffmpeg version") {
		t.Errorf("ffmpeg -version: %q", v)
	}
	if own := run("stat", "-c", "%u", "/var/lib/citywall"); strings.TrimSpace(own) != "10001" {
		t.Errorf("/var/lib/citywall owned by %q, want 10001", own)
	}

	// The demo city from the image, on a free port of the shared network,
	// asked by the image's own health check command.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var out bytes.Buffer
	srv := exec.Command("buildah", "run", "--isolation", "chroot", "--env", "CITYWALL_SERVER_LISTEN="+addr, ctr, "--", "citywall")
	srv.Stdout, srv.Stderr = &out, &out
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			srv.Process.Signal(syscall.SIGTERM)
			srv.Wait()
		}
	}
	defer stop()
	var health error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		c := exec.Command("buildah", "run", "--isolation", "chroot", ctr, "--", "citywall", "health", "-addr", addr, "-path", "/readyz")
		var b []byte
		if b, health = c.CombinedOutput(); health == nil {
			break
		}
		health = fmt.Errorf("%w: %s", health, b)
	}
	stop()
	if health != nil {
		t.Fatalf("citywall health in the image against the server from the image: %v\nserver:\n%s", health, out.String())
	}
	t.Logf("image built and checked in %s wall, %s CPU in child processes", time.Since(start).Round(time.Second), (childCPU() - cpu0).Round(time.Second))
}

// debianBase makes the runtime base image from Debian's packages once.
func debianBase(t *testing.T) string {
	const suite, mirror = "bookworm", "http://deb.debian.org/debian"
	name := "localhost/citywall-test/debian:" + suite + "-" + inputHash(suite, mirror, sourcesList)
	if haveImage(name) {
		return name
	}
	ctr := strings.TrimSpace(buildah(t, "from", "scratch"))
	defer exec.Command("buildah", "rm", ctr).Run()
	mnt := strings.TrimSpace(buildah(t, "mount", ctr))
	if b, err := exec.Command("debootstrap", "--variant=minbase", suite, mnt, mirror).CombinedOutput(); err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, b)
	}
	// As in Debian's own images: updates and security, no package lists or
	// downloaded packages left behind.
	os.Remove(filepath.Join(mnt, "etc/apt/sources.list"))
	if err := os.WriteFile(filepath.Join(mnt, "etc/apt/sources.list.d/debian.sources"), []byte(sourcesList), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"var/lib/apt/lists", "var/cache/apt/archives"} {
		files, _ := filepath.Glob(filepath.Join(mnt, dir, "*"))
		for _, f := range files {
			if filepath.Base(f) != "partial" && filepath.Base(f) != "lock" {
				os.RemoveAll(f)
			}
		}
	}
	buildah(t, "umount", ctr)
	buildah(t, "config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "--cmd", "bash", ctr)
	buildah(t, "commit", "-q", ctr, name)
	return name
}

const sourcesList = `Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`

// goBase makes the build base image: the runtime base with a C compiler
// and this machine's Go toolchain, laid out as the golang image is. It also
// trusts this machine's local CAs (/usr/local/share/ca-certificates): a
// network whose egress re-signs TLS, as this one does and as many closed
// networks do, needs them for go to fetch modules.
func goBase(t *testing.T, runtimeImage string) string {
	goroot := strings.TrimSpace(goEnv(t, "GOROOT"))
	version := strings.TrimPrefix(strings.TrimSpace(goEnv(t, "GOVERSION")), "go")
	cas, _ := filepath.Glob("/usr/local/share/ca-certificates/*.crt")
	inputs := []string{runtimeImage, version}
	for _, f := range cas {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(b))
	}
	name := "localhost/citywall-test/golang:" + version + "-bookworm-" + inputHash(inputs...)
	if haveImage(name) {
		return name
	}
	ctr := strings.TrimSpace(buildah(t, "from", "--pull-never", runtimeImage))
	defer exec.Command("buildah", "rm", ctr).Run()
	for _, f := range cas {
		buildah(t, "copy", "-q", ctr, f, "/usr/local/share/ca-certificates/")
	}
	buildah(t, "run", "--isolation", "chroot", ctr, "--", "sh", "-c",
		"apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev ca-certificates >/dev/null && rm -rf /var/lib/apt/lists/*")
	mnt := strings.TrimSpace(buildah(t, "mount", ctr))
	if b, err := exec.Command("cp", "-a", goroot, filepath.Join(mnt, "usr/local/go")).CombinedOutput(); err != nil {
		t.Fatalf("copy the Go toolchain: %v\n%s", err, b)
	}
	buildah(t, "umount", ctr)
	buildah(t, "config", "--env", "PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--env", "GOPATH=/go", "--env", "GOTOOLCHAIN=local", "--workingdir", "/go", ctr)
	buildah(t, "commit", "-q", ctr, name)
	return name
}

func buildah(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	c := exec.Command("buildah", args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("buildah %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func haveImage(name string) bool {
	return exec.Command("buildah", "inspect", "--type", "image", name).Run() == nil
}

func goEnv(t *testing.T, key string) string {
	b, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return string(b)
}

func inputHash(inputs ...string) string {
	h := sha256.New()
	for _, s := range inputs {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// childCPU is the user and system time of the test's finished children
// (buildah and all it ran).
func childCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
