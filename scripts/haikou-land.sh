#!/usr/bin/env bash
# Makes demo/city/haikou/land.geojson, the land around Haikou for the
# builtin basemap and for keeping demo places out of the sea, from the GSHHG
# high-resolution coastline (LGPL-3.0-or-later). The districts' outlines
# reach out into the sea, so they cannot tell land from water themselves.
# The land mask is padded with water at the box's edge so every outline
# closes. Committed; runs only when the land should change.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v gmt >/dev/null || { echo "haikou-land.sh: needs gmt and gmt-gshhg-high (apt-get install gmt gmt-gshhg-high)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
W=109.5 E=111.3 S=19.1 N=20.6
(
	cd "$tmp" # gmt leaves its history file where it runs
	gmt grdlandmask -R$W/$E/$S/$N -I0.001 -Dh -N0/1/1/1/1 -Gm.nc
	gmt grdmath m.nc X $W GT MUL X $E LT MUL Y $S GT MUL Y $N LT MUL = pad.nc
	gmt grdcontour pad.nc -C+0.5 -Dland.txt
)
go run ./scripts/haikou-districts -land "$tmp/land.txt"
ls -l demo/city/haikou/land.geojson
