#!/usr/bin/env bash
# The runs of bench/RESULTS.md (issue 13's scenarios, and the figures issues
# 11 and 12 ask for), against one committed server:
#
#   bench/issue13.sh COMMIT LABEL [NAME...]
#
# writes bench/results/i13/LABEL-NAME.json and .txt for each NAME (default:
# all, in the order below). Each run waits (at most QUIET_WAIT seconds, default 120) for the
# machine to be quiet first; the result still says how much CPU other
# processes took during its window ("not ours").
set -euo pipefail
cd "$(dirname "$0")/.."
commit=${1:?commit}
label=${2:?label}
shift 2
out=bench/results/i13
mkdir -p "$out"

declare -A runs=(
  [n1-300]="-preset n1-300"
  [n2-300]="-preset n2-300"
  [cluster-300]="-preset cluster-300"
  [n1-1000]="-preset n1-1000"
  [mem-n1-1000]="-preset n1-1000 -node-heap $out/$label-n1-1000.heap.pprof"
  [join]="-preset join"
  [slow]="-preset slow"
  [abuse]="-preset abuse"
  [n1-300-always]="-preset n1-300 -appendfsync always"
  [n1-300-noaof]="-preset n1-300 -aof=false"
  [n1-300-gogc50]="-preset n1-300 -node-env GOGC=50"
  [n1-300-procs1]="-preset n1-300 -node-env GOMAXPROCS=1"
  [aof-20]="-preset n1-300 -rooms 20"
  [aof-20-always]="-preset n1-300 -rooms 20 -appendfsync always"
  [prof-n1-300]="-preset n1-300 -mode inproc -cpuprofile $out/$label-n1-300.cpu.pprof -memprofile $out/$label-n1-300.heap.pprof -mutexprofile $out/$label-n1-300.mutex.pprof -blockprofile $out/$label-n1-300.block.pprof"
)
order=(n1-300 n2-300 cluster-300 n1-1000 join slow abuse n1-300-always prof-n1-300)
[ $# -gt 0 ] && order=("$@")

busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
wait_quiet() {
  local deadline=$((SECONDS + ${QUIET_WAIT:-120}))
  while [ $SECONDS -lt $deadline ]; do
    read -r b0 t0 < <(busy); sleep 3; read -r b1 t1 < <(busy)
    if [ $(( (b1 - b0) * 100 / (t1 - t0 + 1) )) -lt 15 ]; then return; fi
  done
  echo "(machine still busy: running anyway)"
}

for name in "${order[@]}"; do
  wait_quiet
  args=${runs[$name]}
  echo "== $label-$name: bench/snapshot.sh $commit -- $args"
  # shellcheck disable=SC2086
  bench/snapshot.sh "$commit" -- $args -out "$out/$label-$name.json" | tee "$out/$label-$name.txt" || true
done
