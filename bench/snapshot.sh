#!/usr/bin/env bash
# Runs the load generator against a committed version of the server, not
# the working tree (which others may be editing): exports COMMIT (default
# HEAD) into a temporary directory, lays the working tree's bench/ over
# it (so every commit is measured by the same load generator), and runs
#
#   bench/snapshot.sh [COMMIT] -- LOADGEN FLAGS...
#
# e.g. bench/snapshot.sh HEAD -- -preset n1-300 -out bench/results/x.json
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
commit=HEAD
if [ "${1:-}" != "--" ] && [ $# -gt 0 ]; then commit=$1; shift; fi
[ "${1:-}" = "--" ] && shift
short=$(git rev-parse --short "$commit")
snap=$(mktemp -d /tmp/rr-snap-XXXXXX)
trap 'rm -rf "$snap"' EXIT
git archive "$commit" | tar -x -C "$snap"
rm -rf "$snap/bench"
cp -r bench "$snap/bench"
# -out paths are relative to the repository root: make them absolute.
args=()
for a in "$@"; do
  case $a in
    bench/*) args+=("$root/$a") ;;
    *) args+=("$a") ;;
  esac
done
cd "$snap"
# One server binary per commit, reused by later runs.
bin=${TMPDIR:-/tmp}/rr-server-$short
[ -x "$bin" ] || go build -trimpath -o "$bin" ./server  # -trimpath: no paths of this machine in profiles
go build -o "$snap/loadgen" ./bench/loadgen
LOADGEN_CMD_PREFIX="bench/snapshot.sh $short --" "$snap/loadgen" -server-bin "$bin" -source "commit $short (exported; load generator from the working tree's bench/)" "${args[@]}"
