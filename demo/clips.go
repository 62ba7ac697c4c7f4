package demo

import (
	"embed"
	"fmt"

	"github.com/citywall/citywall/demo/democam"
)

// clipFiles are the demo cameras' clips, one per camera, named by its id:
// scripts/democlips makes them with ffmpeg (480×270, 15 fps, 4 s loops
// with a keyframe a second; each a scene, colours and a bouncing ball of
// its own, the camera's name burned in, a running clock).
//
//go:embed clips/*.h264
var clipFiles embed.FS

// clipFPS is the clips' frame rate (scripts/democlips).
const clipFPS = 15

// cameraClip is camera id's own clip.
func cameraClip(id string) (*democam.Clip, error) {
	b, err := clipFiles.ReadFile("clips/" + id + ".h264")
	if err != nil {
		return nil, fmt.Errorf("camera %q has no clip (go run ./scripts/democlips): %w", id, err)
	}
	c, err := democam.ParseClip(b, democam.H264, clipFPS)
	if err != nil {
		return nil, fmt.Errorf("camera %q: clip: %w", id, err)
	}
	return c, nil
}
