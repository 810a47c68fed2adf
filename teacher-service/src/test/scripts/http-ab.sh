#!/usr/bin/env bash
# A/B of POST /v1/soft-labels (SoftLabelsHttpBenchmark): the teacher-service server classes of
# BASE_REF (A) against this checkout's (B), in interleaved rounds A,B,A,B,... (one JVM each), then
# the median requests/s and p99 of each and the ratios B/A per concurrency. Both run this
# checkout's schemas, models and benchmark classes; only teacher-service's main classes differ.
# Run from the repository root:
#   teacher-service/src/test/scripts/http-ab.sh BASE_REF [ROUNDS=4] [REQUESTS_PER_CLIENT=25] [C=1,8,32]
set -euo pipefail
base=${1:?usage: http-ab.sh BASE_REF [ROUNDS] [REQUESTS_PER_CLIENT] [CONCURRENCIES]}
rounds=${2:-4}
per=${3:-25}
conc=${4:-1,8,32}
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mvn -B -q -o -pl teacher-service -am -DskipTests -Dspotless.check.skip=true test-compile \
  dependency:build-classpath -Dmdep.outputFile="$work/cp.txt"
mkdir "$work/base"
git archive "$base" | tar -x -C "$work/base"
(cd "$work/base" && mvn -B -q -o -pl teacher-service -am -DskipTests -Dspotless.check.skip=true compile)

deps=$(tr ':' '\n' < "$work/cp.txt" | grep -v '/teacher-service/target/classes$' | paste -sd:)
cp_a="$root/teacher-service/target/test-classes:$work/base/teacher-service/target/classes:$deps"
cp_b="$root/teacher-service/target/test-classes:$root/teacher-service/target/classes:$deps"
export OMP_NUM_THREADS=1 DJL_OFFLINE=true
for r in $(seq 1 "$rounds"); do
  for v in A B; do
    if [ "$v" = A ]; then cp=$cp_a; else cp=$cp_b; fi
    echo "round $r $v load $(cut -d' ' -f1 /proc/loadavg)"
    java -Xmx1g -cp "$cp" dev.distill.teacher.http.SoftLabelsHttpBenchmark "$v" "$per" "$conc" \
      2>/dev/null | grep '^RESULT' | tee -a "$work/results.txt"
  done
done
echo "A = $base ($(git rev-parse --short "$base")), B = $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + uncommitted'), $rounds rounds, load now $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work/results.txt" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"RESULT (\w+) c=(\d+) n=\d+ rps=([\d.]+) p50_ms=[\d.]+ p99_ms=([\d.]+)", line)
    if m:
        runs.setdefault((m[1], int(m[2])), []).append((float(m[3]), float(m[4])))
for c in sorted({c for _, c in runs}):
    a, b = runs[("A", c)], runs[("B", c)]
    ra, rb = statistics.median(x[0] for x in a), statistics.median(x[0] for x in b)
    pa, pb = statistics.median(x[1] for x in a), statistics.median(x[1] for x in b)
    print(f"c={c}: median rps A {ra:.1f} B {rb:.1f} (B/A {rb / ra:.2f}); "
          f"median p99 ms A {pa:.1f} B {pb:.1f} (B/A {pb / pa:.2f})")
PY
