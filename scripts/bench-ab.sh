#!/usr/bin/env bash
# Interleaved A/B of `npm run bench` between another checkout A (for example the commit before a
# change, extracted with `git archive <commit> | tar -x -C /tmp/a` plus a node_modules symlink)
# and this checkout B, in one session: rounds of A then B, so that both see the same machine.
#
#   scripts/bench-ab.sh /tmp/a [rounds] [bench args...]
#
# Prints each run's JSON line prefixed with A or B, then the median images/s of each side.
set -euo pipefail
A=${1:?usage: scripts/bench-ab.sh <dir of A> [rounds] [bench args...]}
ROUNDS=${2:-3}
shift $(( $# >= 2 ? 2 : 1 ))
B=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp)
for r in $(seq 1 "$ROUNDS"); do
  for side in A B; do
    dir=$A; [ "$side" = B ] && dir=$B
    line=$(cd "$dir" && node --import tsx scripts/bench.ts "$@" | grep '^{' | head -1)
    echo "$side $line" | tee -a "$out"
  done
done
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
for (const side of ["A", "B"]) {
  const v = lines.filter((l) => l.startsWith(side + " ")).map((l) => JSON.parse(l.slice(2)));
  const ips = v.map((j) => j.imagesPerSecond).sort((a, b) => a - b);
  const cpu = v.map((j) => j.cpuMsPerStep).sort((a, b) => a - b);
  console.log(`${side}: images/s ${ips.join(", ")} (median ${ips[Math.floor(ips.length / 2)]}); cpu ms/step median ${cpu[Math.floor(cpu.length / 2)]}`);
}' "$out"
rm -f "$out"
