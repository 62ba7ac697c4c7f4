package app_test

import (
	"bytes"
	"net/http"
	"os"
	"strconv"
	"testing"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/internal/pmtiles"
	"github.com/citywall/citywall/internal/pmtiles/pmtilestest"
)

// haikouArchive builds the demo city's PMTiles basemap for a test.
func haikouArchive(t testing.TB) (string, []byte) {
	t.Helper()
	path, err := pmtilestest.Haikou(t.TempDir())
	if err != nil {
		t.Fatalf("build the test basemap: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

// TestBasemapArchive: the pmtiles basemap's archive is served to signed-in
// callers only, whole or by byte ranges (what the browser's pmtiles reader
// asks for), and the maps are told where it is.
func TestBasemapArchive(t *testing.T) {
	path, archive := haikouArchive(t)
	h, err := pmtiles.ReadHeader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, func(c *config.Config) {
		c.Map.Basemap, c.Map.PMTiles = config.BasemapPMTiles, path
	})
	const url = "/api/v1/basemap.pmtiles"
	wall := s.tokens[config.RoleWall]

	ranged := func(token, r string) (int, http.Header, []byte) {
		hd := http.Header{"Range": {r}}
		if token != "" {
			hd.Set("Authorization", "Bearer "+token)
		}
		return s.doHeader(http.MethodGet, url, hd, nil)
	}
	t.Run("refused without a token", func(t *testing.T) {
		code, _, body := ranged("", "bytes=0-16383")
		checkError(t, "no token", code, body, http.StatusUnauthorized, "unauthorized")
		if bytes.Contains(body, []byte("PMTiles")) {
			t.Error("the refusal carries the archive")
		}
		code, _, body = ranged(s.tokens[config.RoleIngest], "bytes=0-16383")
		checkError(t, "ingest token", code, body, http.StatusForbidden, "forbidden")
	})
	t.Run("ranges", func(t *testing.T) {
		for _, tt := range []struct {
			name     string
			r        string
			from, to int // inclusive
		}{
			{"the first 16 KiB (header and root directory)", "bytes=0-16383", 0, 16383},
			{"the header", "bytes=0-126", 0, pmtiles.HeaderLen - 1},
			{"the root directory", rangeOf(h.RootOffset, h.RootLength), int(h.RootOffset), int(h.RootOffset+h.RootLength) - 1},
			{"a run of tile data", rangeOf(h.DataOffset+1000, 5000), int(h.DataOffset) + 1000, int(h.DataOffset) + 5999},
			{"the last bytes", "bytes=-100", len(archive) - 100, len(archive) - 1},
		} {
			code, hd, body := ranged(wall, tt.r)
			if code != http.StatusPartialContent {
				t.Errorf("%s (%s): status %d, want 206", tt.name, tt.r, code)
				continue
			}
			if want := archive[tt.from : tt.to+1]; !bytes.Equal(body, want) {
				t.Errorf("%s (%s): %d bytes not those of the archive at %d-%d", tt.name, tt.r, len(body), tt.from, tt.to)
			}
			if got, want := hd.Get("Content-Range"), "bytes "+itoa(tt.from)+"-"+itoa(tt.to)+"/"+itoa(len(archive)); got != want {
				t.Errorf("%s: Content-Range %q, want %q", tt.name, got, want)
			}
			if hd.Get("Accept-Ranges") != "bytes" || hd.Get("Cache-Control") != "private, no-cache" {
				t.Errorf("%s: headers %v", tt.name, hd)
			}
		}
		code, _, body := s.do(http.MethodGet, url, wall, "", nil)
		if code != http.StatusOK || !bytes.Equal(body, archive) {
			t.Errorf("the whole archive: status %d, %d of %d bytes", code, len(body), len(archive))
		}
		if code, _, _ := ranged(wall, "bytes=999999999-"); code != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("a range past the end: status %d, want 416", code)
		}
	})
	t.Run("public info", func(t *testing.T) {
		var pub struct {
			Map struct {
				Basemap    string `json:"basemap"`
				PMTilesURL string `json:"pmtiles_url"`
			} `json:"map"`
		}
		s.getJSON("/api/v1/public", wall, &pub)
		if pub.Map.Basemap != "pmtiles" || pub.Map.PMTilesURL != url {
			t.Errorf("public map: %+v", pub.Map)
		}
	})
}

// TestBasemapArchiveOnlyForPMTiles: with another basemap there is no
// archive to serve, whatever file is lying about.
func TestBasemapArchiveOnlyForPMTiles(t *testing.T) {
	s := startServer(t, nil)
	code, _, body := s.do(http.MethodGet, "/api/v1/basemap.pmtiles", s.tokens[config.RoleWall], "", nil)
	checkError(t, "builtin basemap", code, body, http.StatusNotFound, "not_found", "pmtiles")
}

func rangeOf(off, n uint64) string { return "bytes=" + itoa(int(off)) + "-" + itoa(int(off+n)-1) }

func itoa(n int) string { return strconv.Itoa(n) }
