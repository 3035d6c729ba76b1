#!/usr/bin/env bash
# Runs the load generator configurations of bench/README.md's results table
# and the micro-benchmarks, writing raw outputs under bench/results/.
#
#   bench/run.sh            every configuration (about 20 minutes on a quiet machine)
#   bench/run.sh NAME...    only those (names below)
#
# Each result file starts with the exact command that produced it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results

declare -A runs=(
  [n1-r50x3]="-nodes 1 -rooms 50 -clients 3 -rate 5 -duration 30s"
  [n2-r50x3]="-nodes 2 -rooms 50 -clients 3 -rate 5 -duration 30s"
  [n1-r200x3]="-nodes 1 -rooms 200 -clients 3 -rate 5 -duration 30s"
  [n2-r200x3]="-nodes 2 -rooms 200 -clients 3 -rate 5 -duration 30s"
  [n2-r200x3-noaof]="-nodes 2 -rooms 200 -clients 3 -rate 5 -duration 30s -aof=false"
  [n1-r300x3]="-nodes 1 -rooms 300 -clients 3 -rate 5 -duration 30s"
  [n2-r300x3]="-nodes 2 -rooms 300 -clients 3 -rate 5 -duration 30s"
  [n1-r400x3]="-nodes 1 -rooms 400 -clients 3 -rate 5 -duration 30s"
  [n2-r400x3]="-nodes 2 -rooms 400 -clients 3 -rate 5 -duration 30s"
  [n1-r400x3-pool200]="-nodes 1 -rooms 400 -clients 3 -rate 5 -duration 30s -node-redis-params pool_size=200"
  [n2-r400x3-pool200]="-nodes 2 -rooms 400 -clients 3 -rate 5 -duration 30s -node-redis-params pool_size=200"
  [n1-r400x3-repeat]="-nodes 1 -rooms 400 -clients 3 -rate 5 -duration 30s"
  [n1-r400x3-repeat2]="-nodes 1 -rooms 400 -clients 3 -rate 5 -duration 30s"
  [n1-r400x3-repeat3]="-nodes 1 -rooms 400 -clients 3 -rate 5 -duration 30s"
  [n1-r400x3-pool200-repeat]="-nodes 1 -rooms 400 -clients 3 -rate 5 -duration 30s -node-redis-params pool_size=200"
  [n1-r400x3-pool200-repeat2]="-nodes 1 -rooms 400 -clients 3 -rate 5 -duration 30s -node-redis-params pool_size=200"
  [n1-r400x3-pool200-repeat3]="-nodes 1 -rooms 400 -clients 3 -rate 5 -duration 30s -node-redis-params pool_size=200"
  [n2-r400x3-repeat]="-nodes 2 -rooms 400 -clients 3 -rate 5 -duration 30s"
  [n1-hot1x10]="-nodes 1 -rooms 1 -clients 10 -rate 5 -duration 30s"
  [n2-hot1x10]="-nodes 2 -rooms 1 -clients 10 -rate 5 -duration 30s"
  [inproc-n1-r400x3]="-mode inproc -nodes 1 -rooms 400 -clients 3 -rate 5 -duration 30s -cpuprofile $out/inproc-n1-r400x3.cpu.pprof"
  [inproc-n2-r200x3-profile]="-mode inproc -nodes 2 -rooms 200 -clients 3 -rate 5 -duration 30s -cpuprofile $out/inproc-n2-r200x3.cpu.pprof -memprofile $out/inproc-n2-r200x3.heap.pprof"
)
order=(n1-r50x3 n2-r50x3 n1-r200x3 n2-r200x3 n2-r200x3-noaof n1-r300x3 n2-r300x3
  n1-r400x3 n1-r400x3-repeat n1-r400x3-repeat2 n1-r400x3-repeat3
  n1-r400x3-pool200 n1-r400x3-pool200-repeat n1-r400x3-pool200-repeat2 n1-r400x3-pool200-repeat3
  n2-r400x3 n2-r400x3-repeat n2-r400x3-pool200 n1-hot1x10 n2-hot1x10
  inproc-n2-r200x3-profile inproc-n1-r400x3 perf-n2-r200x3-node0 micro)
[ $# -gt 0 ] && order=("$@")

# This machine may be shared: wait (at most 5 minutes) until it has been
# idle for 3 seconds before each run. Every result still reports the CPU
# that processes other than ours took during its window.
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
wait_quiet() {
  local deadline=$((SECONDS + 300))
  while [ $SECONDS -lt $deadline ]; do
    read -r b0 t0 < <(busy); sleep 3; read -r b1 t1 < <(busy)
    if [ $(( (b1 - b0) * 100 / (t1 - t0 + 1) )) -lt 8 ]; then return; fi
  done
  echo "(machine still busy after 5 minutes: running anyway)"
}

for name in "${order[@]}"; do
  wait_quiet
  if [ "$name" = perf-n2-r200x3-node0 ]; then
    # perf on node 0, a real server process, during the typing window.
    data=/tmp/$name.data
    cmd1="go run ./bench/loadgen -nodes 2 -rooms 200 -clients 3 -rate 5 -duration 30s -perf $data -out /tmp/$name.json"
    cmd2="perf report -i $data --children --sort symbol --stdio -g none --percent-limit 2"
    echo "== $name: $cmd1"
    $cmd1 >/dev/null
    { echo "\$ $cmd1"; echo "\$ $cmd2"; $cmd2 2>/dev/null | grep -v '^$' | sed 's/ *-  *- *$//'; } > "$out/$name.txt"
    continue
  fi
  if [ "$name" = micro ]; then
    cmd="go test -run ^\$ -bench . -benchmem -count 3 ./bench/"
    echo "== $name: $cmd"
    { echo "\$ $cmd"; $cmd; } 2>&1 | tee "$out/micro.txt"
    continue
  fi
  args=${runs[$name]}
  # A run during which other processes took more than 10% of a core is
  # repeated (at most three attempts; the last one is kept either way).
  for attempt in 1 2 3; do
    [ "$attempt" -gt 1 ] && { echo "(other processes were busy: running $name again)"; wait_quiet; }
    echo "== $name: go run ./bench/loadgen $args -out $out/$name.json"
    # shellcheck disable=SC2086
    go run ./bench/loadgen $args -out "$out/$name.json" | tee "$out/$name.txt" || true
    other=$(grep -o '"other_processes_cpu_pct_of_one_core": [0-9.]*' "$out/$name.json" | awk '{print int($2)}')
    [ "${other:-100}" -le 10 ] && break
  done
done
