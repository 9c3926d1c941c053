#!/bin/bash
# sample write/read syscalls per second of meshd and of the ceiling process while a bench runs
out=$1; shift
"$@" > $out.txt 2>&1 &
bp=$!
for i in $(seq 1 200); do
  sleep 1
  for name in meshd ceil; do
    if [ $name = meshd ]; then pid=$(pgrep -n -f '^/tmp/p/meshd'); else pid=$(grep -l MESHD_BENCH_CEILING=1 /proc/[0-9]*/environ 2>/dev/null | head -1 | cut -d/ -f3); fi
    [ -n "$pid" ] && [ -e /proc/$pid/io ] && echo "$i $name $pid $(awk '/syscw|syscr/{printf "%s ", $2}' /proc/$pid/io) $(awk '{print $14+$15}' /proc/$pid/stat)"
  done
  kill -0 $bp 2>/dev/null || break
done > $out.sys
wait $bp
