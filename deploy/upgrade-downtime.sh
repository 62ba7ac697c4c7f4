#!/bin/sh
# upgrade-downtime.sh: the gap a one-instance upgrade leaves. Starts
# citywall on a fresh data directory, posts N tickets, then stops it
# (SIGTERM) and starts the binary again, as an upgrade does, probing
# /readyz every 10 ms; prints the longest run of failed probes.
#   deploy/upgrade-downtime.sh [TICKETS]        (needs curl, go)
set -eu
n=${1:-2000}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/citywall" ./cmd/citywall
port=$(( 20000 + $$ % 20000 ))
tok=upgrade-downtime-token-0123456789abcdef
cat > "$work/city.yaml" <<YAML
server: {listen: "127.0.0.1:$port"}
auth: {tokens: [{name: op, token: $tok, roles: [admin, ingest]}]}
storage: {dir: "$work/data"}
log: {level: warn}
YAML
url=http://127.0.0.1:$port
"$work/citywall" -config "$work/city.yaml" 2>"$work/log1" & pid=$!
until curl -sf "$url/readyz" >/dev/null; do sleep 0.05; done
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
i=0; body="["
while [ $i -lt "$n" ]; do
  body="$body{\"id\":\"U$i\",\"channel\":\"phone\",\"category\":\"城市管理\",\"summary\":\"x\",\"lat\":20.03,\"lng\":110.33,\"created\":\"$now\"}"
  i=$((i+1)); [ $i -lt "$n" ] && body="$body,"
done
printf '%s]' "$body" > "$work/tickets.json"
curl -sf -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' --data-binary @"$work/tickets.json" "$url/api/v1/tickets" >/dev/null
# Probe every 10 ms, noting the time of each failure.
( while :; do
    t=$(date +%s%N)
    curl -sf -m 1 -o /dev/null "$url/readyz" || echo "$t"
    sleep 0.01
  done ) > "$work/fails" & probe=$!
sleep 0.5
start=$(date +%s%N)
kill -TERM $pid; wait $pid || true
"$work/citywall" -config "$work/city.yaml" 2>"$work/log2" & pid=$!
until curl -sf "$url/readyz" >/dev/null; do sleep 0.005; done
ready=$(date +%s%N)
sleep 0.3
kill $probe
first=$(head -1 "$work/fails"); last=$(tail -1 "$work/fails")
echo "tickets: $n; from SIGTERM to /readyz 200: $(( (ready - start) / 1000000 )) ms;" \
  "probes failed: $(wc -l < "$work/fails") spanning $(( (last - first) / 1000000 )) ms"
