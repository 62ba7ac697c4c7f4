package app_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/config"
)

// TestWallScreensArtifact opens the demo's command wall as its eight
// displays (4 × 2 monitors of 1920×1080, each a tab on /wall/main?monitor=N,
// numbered along the rows) and keeps their screenshots composed into one
// picture of the whole wall, wall-main-4x2-7680x2160.png, as a wall PC
// would show it. The map spans monitors 0, 1, 4 and 5.
func TestWallScreensArtifact(t *testing.T) {
	s := demoWallServer(t)
	b := newWallBrowser(t, 300*time.Second) // eight 1920×1080 tabs in software WebGL: 110 s in CI under load
	// The eight displays sign in at once in one browser: none may end the
	// session another is using (no 401 in any console, checked at the end).
	tok := url.QueryEscape(s.tokens[config.RoleWall])
	const cols, rows, w, h = 4, 2, 1920, 1080
	tabs := make([]context.Context, cols*rows)
	for i := range tabs {
		tabs[i] = b.tab(fmt.Sprintf("%s/wall/main?monitor=%d&token=%s", s.url, i, tok), w, h)
	}
	for i, tab := range tabs {
		wallPoll(t, tab, fmt.Sprintf("monitor %d", i), stageProbe, 60*time.Second, func(st stageStatus) bool {
			if !strings.Contains(st.Conn, "conn-open") || len(st.Tiles) == 0 {
				return false
			}
			for _, tl := range st.Tiles {
				if !tl.Mounted && !tl.Placeholder {
					return false
				}
			}
			return true
		})
	}
	// The map's monitors: the heat is drawn.
	for _, i := range []int{0, 1, 4, 5} {
		evalUntil(t, tabs[i], fmt.Sprintf("monitor %d's map", i), stageProbe, 30*time.Second, 200*time.Millisecond, func(st stageStatus) bool { return st.HeatPx > 0 })
	}
	time.Sleep(2 * time.Second) // video tiles past their first frames

	wall := image.NewRGBA(image.Rect(0, 0, cols*w, rows*h))
	for i, tab := range tabs {
		shot, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot of monitor %d: %v", i, err)
		}
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("monitor %d: %v", i, err)
		}
		if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
			t.Errorf("monitor %d is %dx%d, want %dx%d", i, b.Dx(), b.Dy(), w, h)
		}
		at := image.Pt(i%cols*w, i/cols*h)
		draw.Draw(wall, image.Rectangle{Min: at, Max: at.Add(image.Pt(w, h))}, img, img.Bounds().Min, draw.Src)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, wall); err != nil {
		t.Fatal(err)
	}
	artifact(t, "wall-main-4x2-7680x2160.png", buf.Bytes())
	b.checkConsole()
}
