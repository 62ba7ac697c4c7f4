#!/usr/bin/env bash
# Makes the demo camera's clip, demo/democam/clip.h264: 10 s of a moving
# test pattern, 640x360 at 25 fps, H.264 constrained baseline with one
# keyframe a second, as a raw Annex-B stream with access-unit delimiters and
# the parameter sets repeated before every keyframe. The in-process RTSP
# server of the demo city loops it; it is committed, so this runs only when
# the clip should change.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v ffmpeg >/dev/null || { echo "make-demo-clip.sh: needs ffmpeg (apt-get install ffmpeg)" >&2; exit 1; }
out=demo/democam/clip.h264
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "testsrc2=size=640x360:rate=25:duration=10" \
	-c:v libx264 -preset veryslow -tune animation -profile:v baseline -level 3.0 -pix_fmt yuv420p \
	-b:v 220k -maxrate 300k -bufsize 300k \
	-x264-params "keyint=25:min-keyint=25:scenecut=0:aud=1:repeat-headers=1" \
	-bsf:v h264_mp4toannexb -f h264 "$out"
ls -l "$out"
