#!/usr/bin/env bash
# console-cost.sh: what open teacher's consoles cost the classroom. Runs the ×1 bench against a
# meshd started here, alternately with 0 and with N consoles' live streams open (logged in as
# a page does, each stream read and discarded as a browser would), and prints meshd's CPU of
# every run. Usage: bash bench/console-cost.sh [consoles=2] [rounds=3] [extra bench flags…]
# With PROFILE=FILE it also writes meshd's CPU profile of the last run with consoles (20 s of
# the window), whose share under cmd/meshd/console is the consoles' cost without the machine's noise.
# Loopback only; every run is bounded by the bench's own -duration.
set -euo pipefail
cd "$(dirname "$0")/.."
consoles=${1:-2}
rounds=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
key=bench-console-admin-key-0123456789
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
go build -o "$tmp/meshd" ./cmd/meshd
go build -o "$tmp/bench" ./bench

one() { # one run with $1 consoles; prints meshd's CPU line
  local n=$1 dir="$tmp/data-$RANDOM" pids=()
  mkdir -p "$dir"
  local pprof=""
  if [ -n "${PROFILE:-}" ] && [ "$n" -gt 0 ]; then pprof=127.0.0.1:$((20000 + RANDOM % 20000)); fi
  MESH_PPROF_ADDR=$pprof MESH_ADMIN_KEYS=$key MESH_LISTEN_ADDR=127.0.0.1:0 MESH_DATA_DIR=$dir "$tmp/meshd" 2>"$dir/log" &
  local meshd=$!
  local addr=""
  for _ in $(seq 1 100); do
    addr=$(grep -o 'msg="meshd listening" addr=[^ ]*' "$dir/log" | sed 's/.*addr=//') && [ -n "$addr" ] && break
    sleep 0.1
  done
  for i in $(seq 1 "$n"); do
    curl -s -c "$dir/jar$i" -H 'Content-Type: application/json' -d "{\"key\":\"$key\"}" "http://$addr/console/login" >/dev/null
    curl -s -N -b "$dir/jar$i" "http://$addr/console/api/stream" >/dev/null &
    pids+=($!)
  done
  local prof=""
  if [ -n "$pprof" ]; then (sleep 8; curl -s -o "$PROFILE" "http://$pprof/debug/pprof/profile?seconds=20") & prof=$!; fi
  "$tmp/bench" -target "http://$addr/graphql" -ceiling 0 "$@" 2>/dev/null | grep -E 'meshd +CPU' | sed "s/^/consoles=$n /"
  if [ -n "$prof" ]; then wait "$prof" || true; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  kill "$meshd"; wait "$meshd" 2>/dev/null || true
}

for r in $(seq 1 "$rounds"); do
  one 0 "$@"
  one "$consoles" "$@"
done
