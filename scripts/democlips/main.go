// Command democlips writes demo/clips/<camera id>.h264, one short looping
// H.264 clip for each of the demo city's cameras (demo/city.Cameras), with
// ffmpeg (Debian's, apt-get install ffmpeg fonts-noto-cjk).
//
// Every camera gets a picture of its own, so a commander tells the tiles of
// the wall apart at a glance: a synthetic scene (gradients, test bars,
// Game of Life, a cellular automaton, a Mandelbrot zoom, a Sierpiński
// carpet, traffic lanes, …) in its own colours, a square bouncing at its own
// speed, and a caption along the bottom: the camera's name and district
// (Noto Sans CJK SC), its id, the clip's running time and frame number —
// the clock and the square stop when a tile freezes.
//
// The clips are small on purpose: 480×270, 15 fps, 4 s loops, a keyframe a
// second, x264 constrained baseline at CRF 30 capped at 160 kbit/s, as raw
// Annex-B with access-unit delimiters and the parameter sets before every
// keyframe (what democam.ParseClip takes). The output is committed; run
// this only when the cameras or the scenes change:
//
//	go run ./scripts/democlips
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/citywall/citywall/demo/city"
)

// The clips' format; demo/clips.go and its test hold the same numbers.
const (
	width   = 480
	height  = 270
	fps     = 15
	seconds = 4
	font    = "Noto Sans CJK SC"
)

func main() {
	out := flag.String("out", "demo/clips", "directory to write <camera id>.h264 to")
	only := flag.String("only", "", "comma-separated camera ids to make (default: all, and stale clips are removed)")
	flag.Parse()
	if err := run(*out, *only); err != nil {
		fmt.Fprintln(os.Stderr, "democlips:", err)
		os.Exit(1)
	}
}

func run(out, only string) error {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return errors.New("needs ffmpeg (apt-get install ffmpeg)")
	}
	if b, err := exec.Command("fc-list", ":family="+font).Output(); err != nil || len(bytes.TrimSpace(b)) == 0 {
		return fmt.Errorf("needs the font %q (apt-get install fonts-noto-cjk)", font)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "democlips")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cams := city.Cameras()
	var want []string
	if only != "" {
		want = strings.Split(only, ",")
	}
	total := 0
	for i, c := range cams {
		if want != nil && !slices.Contains(want, c.ID) {
			continue
		}
		path := filepath.Join(out, c.ID+".h264")
		if err := makeClip(tmp, path, i, c); err != nil {
			return fmt.Errorf("camera %s: %w", c.ID, err)
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		total += int(st.Size())
		fmt.Printf("%-24s %-12s %7d bytes\n", c.ID, scenes[i%len(scenes)].name, st.Size())
	}
	if want == nil {
		// Clips of cameras that are gone.
		old, _ := filepath.Glob(filepath.Join(out, "*.h264"))
		for _, p := range old {
			id := strings.TrimSuffix(filepath.Base(p), ".h264")
			if !slices.ContainsFunc(cams, func(c city.Camera) bool { return c.ID == id }) {
				if err := os.Remove(p); err != nil {
					return err
				}
				fmt.Printf("removed %s\n", p)
			}
		}
	}
	fmt.Printf("total %d bytes\n", total)
	return nil
}

// makeClip encodes camera i's clip to path.
func makeClip(tmp, path string, i int, c city.Camera) error {
	// The texts go through files: names need no escaping there.
	texts := map[string]string{
		"name":  c.Name,
		"where": c.District,
		"id":    c.ID,
		"clock": "%{pts:hms}  #%{eif:n:d:2}",
	}
	files := map[string]string{}
	for k, v := range texts {
		p := filepath.Join(tmp, k+".txt")
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			return err
		}
		files[k] = p
	}
	sc := scenes[i%len(scenes)]
	col := palette[(i*5)%len(palette)]
	frames := fps * seconds
	src := expand(sc.graph, i, col)
	// The square bounces above the caption, at a speed and from a corner of
	// its own. The caption is a band along the bottom: the player's own
	// caption (name and state) runs along the top of a tile.
	vx, vy := 90+(i*37)%110, 60+(i*53)%90
	band, row := 66, 33
	graph := src + "[bg];" +
		// White with a black rim: seen on every scene.
		fmt.Sprintf("color=c=white:s=36x36:r=%d:d=%d,drawbox=x=0:y=0:w=36:h=36:color=black:t=4[ball];", fps, seconds) +
		fmt.Sprintf("[bg][ball]overlay=x='abs(mod(t*%d+%d,2*(W-w))-(W-w))':y='abs(mod(t*%d+%d,2*(H-%d-h))-(H-%d-h))':shortest=1,",
			vx, (i*61)%width, vy, (i*29)%height, band, band) +
		fmt.Sprintf("drawbox=x=0:y=ih-%d:w=iw:h=%d:color=black:t=fill,", band, band) +
		drawtext(files["name"], 24, "10", fmt.Sprintf("h-%d+(%d-th)/2-3", band, row)) + "," +
		drawtext(files["where"], 18, "w-tw-10", fmt.Sprintf("h-%d+(%d-th)/2-3", band, row)) + "," +
		drawtext(files["id"], 17, "10", fmt.Sprintf("h-%d+(%d-th)/2-3", row, row)) + "," +
		drawtext(files["clock"], 19, "w-tw-10", fmt.Sprintf("h-%d+(%d-th)/2-3", row, row)) + "," +
		"format=yuv420p"
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-filter_complex", graph, "-frames:v", fmt.Sprint(frames),
		"-c:v", "libx264", "-preset", "veryslow", "-tune", "animation",
		"-profile:v", "baseline", "-level", "3.0",
		"-crf", "30", "-maxrate", "160k", "-bufsize", "160k",
		"-x264-params", fmt.Sprintf("keyint=%d:min-keyint=%d:scenecut=0:aud=1:repeat-headers=1", fps, fps),
		"-bsf:v", "h264_mp4toannexb", "-f", "h264", path)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg: %w: %s", err, b)
	}
	return nil
}

func drawtext(file string, size int, x, y string) string {
	return fmt.Sprintf("drawtext=font='%s':textfile='%s':fontsize=%d:fontcolor=white:x=%s:y=%s", font, file, size, x, y)
}

// scene is a lavfi source graph ending in one stream of the clip's size,
// rate and length.
type scene struct {
	name  string
	graph string
}

// expand fills a scene's graph for camera i in colours col: {W}×{H} at {R}
// fps for {D} seconds, {I} the camera's index (seeds, phases), {C0} {C1}
// the colours, {R0} {G0} {B0} the accent's channels, {Hue} a hue shift in
// degrees, {Rule} an automaton rule, {Type} a fractal and {MX} {MY} where a
// Mandelbrot zoom looks.
func expand(graph string, i int, col [2]string) string {
	var r, g, b int
	fmt.Sscanf(col[1], "0x%02x%02x%02x", &r, &g, &b)
	rules := []int{30, 90, 110, 150, 182, 73, 45}
	// Places on the Mandelbrot set's edge worth zooming into.
	spots := [][2]string{{"-0.743643887", "-0.131825904"}, {"-0.1011", "0.9563"}, {"0.2850", "0.0100"}, {"-1.2507", "0.0201"}, {"-0.7453", "0.1127"}}
	spot := spots[(i/len(scenes))%len(spots)]
	return strings.NewReplacer(
		"{W}", fmt.Sprint(width), "{H}", fmt.Sprint(height), "{R}", fmt.Sprint(fps), "{D}", fmt.Sprint(seconds),
		"{I}", fmt.Sprint(i), "{C0}", col[0], "{C1}", col[1],
		"{R0}", fmt.Sprint(r), "{G0}", fmt.Sprint(g), "{B0}", fmt.Sprint(b),
		"{Hue}", fmt.Sprint((i*47)%360), "{Rule}", fmt.Sprint(rules[i%len(rules)]),
		"{Type}", []string{"carpet", "triangle"}[i%2], "{MX}", spot[0], "{MY}", spot[1],
	).Replace(graph)
}

// scenes, one after another down the list of cameras (see expand for the
// placeholders).
var scenes = []scene{
	{"gradients", "gradients=s={W}x{H}:r={R}:d={D}:c0={C0}:c1={C1}:x0=0:y0=0:x1={W}:y1={H}:speed=0.02"},
	{"bars", "smptehdbars=s={W}x{H}:r={R}:d={D},hue=h={Hue}"},
	{"life", "life=s=48x27:r=3:mold=10:ratio=0.35:seed={I}:death_color=0x101820:life_color={C1},fps={R},scale={W}:{H}:flags=neighbor,trim=duration={D}"},
	{"cellauto", "cellauto=s=60x34:r=5:rule={Rule}:scroll=1:seed={I}:random_fill_ratio=0.5,fps={R},scale={W}:{H}:flags=neighbor,trim=duration={D},format=rgb24,lutrgb=r='val*{R0}/255':g='val*{G0}/255':b='val*{B0}/255'"},
	{"mandelbrot", "mandelbrot=s={W}x{H}:r={R}:maxiter=120:start_scale=0.8:end_scale=0.4:end_pts=60:start_x={MX}:start_y={MY},trim=duration={D},hue=h={Hue}:s=0.7,eq=brightness=-0.1"},
	{"sierpinski", "sierpinski=s={W}x{H}:r=5:type={Type}:seed={I},fps={R},trim=duration={D},format=rgb24,lutrgb=r='val*{R0}/255':g='val*{G0}/255':b='val*{B0}/255'"},
	{"lanes", "color=c={C0}:s={W}x{H}:r={R}:d={D},drawbox=x=0:y=100:w=iw:h=4:color=0xe0e0e0:t=fill,drawbox=x=0:y=170:w=iw:h=4:color=0xe0c040:t=fill[road];" +
		"color=c={C1}:s=70x30:r={R}:d={D}[car1];color=c=0xe04040:s=90x34:r={R}:d={D}[car2];color=c=white:s=60x28:r={R}:d={D}[car3];" +
		"[road][car1]overlay=x='mod(t*150+{I}*40,W+w)-w':y=60[l1];[l1][car2]overlay=x='W-mod(t*110+{I}*70,W+w)':y=125[l2];[l2][car3]overlay=x='mod(t*200+{I}*90,W+w)-w':y=195"},
	{"rgb", "rgbtestsrc=s={W}x{H}:r={R}:d={D},hue=h={Hue}"},
	{"water", "gradients=s={W}x{H}:r={R}:d={D}:c0=0x0b2a4a:c1={C0}:x0=0:y0=0:x1=0:y1={H}:speed=0.05,drawbox=x=0:y=150:w=iw:h=3:color=0xff5050:t=fill"},
	{"yuv", "yuvtestsrc=s={W}x{H}:r={R}:d={D},hue=h={Hue}:s=1.3"},
}

// palette: pairs of colours (a background and an accent).
var palette = [][2]string{
	{"0x1f4e79", "0x2e8b57"}, {"0x5b2c6f", "0xf39c12"}, {"0x154360", "0x48c9b0"}, {"0x6e2c00", "0xf4d03f"},
	{"0x0e6251", "0xec7063"}, {"0x4a235a", "0x5dade2"}, {"0x7b241c", "0x58d68d"}, {"0x1b2631", "0xaf7ac5"},
	{"0x145a32", "0xf5b041"}, {"0x512e5f", "0x76d7c4"}, {"0x283747", "0xff6f61"}, {"0x784212", "0x85c1e9"},
}
