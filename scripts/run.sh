#!/usr/bin/env bash
# Runs citywall on its embedded demo city (or with the flags given, e.g.
# -config city.yaml). H3 is a C library: a C compiler is installed first
# when the machine has none.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v gcc >/dev/null; then
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq && $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null
fi
export CGO_ENABLED=1
exec go run ./cmd/citywall "$@"
