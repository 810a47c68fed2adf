#!/usr/bin/env bash
# Issue 13: engine ops and single-thread CPU ms per decoding / training step, two builds
# interleaved (A, B, A, B, ...), medians. Load on a shared machine changes wall time a lot and
# single-thread CPU time little, so this is what we compare under load.
# Usage: benchmarks/scripts/speed_probe.sh A_CLASSES B_CLASSES [ROUNDS=3] [REPS=15]
#   X_CLASSES: "models/target/classes:schemas/target/classes:student-trainer/target/classes" of a
#   build (e.g. a copy of main's before the change), colon-separated.
# Needs: mvn -B -o -pl student-trainer -am test-compile (for SpeedProbe) and /tmp/st-cp.txt from
#   mvn -B -o -pl student-trainer dependency:build-classpath -Dmdep.outputFile=/tmp/st-cp.txt
#   (or another file named by CP_FILE)
set -euo pipefail
cd "$(dirname "$0")/../.."
A=$1; B=$2; ROUNDS=${3:-3}; REPS=${4:-15}
CP_FILE=${CP_FILE:-/tmp/st-cp.txt}
CORPUS=deploy/src/main/resources/corpus/tinyshakespeare.txt
PROBE=$(mktemp -d)
# the probe compiled against each build's own classes (public API both builds have)
for x in A B; do
  mkdir -p "$PROBE/$x"
  javac -d "$PROBE/$x" -cp "${!x}:$(cat "$CP_FILE")" \
    student-trainer/src/test/java/dev/distill/trainer/profiling/SpeedProbe.java
done
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  for mode in decode-gpt decode-llama train; do
    for x in A B; do
      out="$PROBE/trace-$x"; mkdir -p "$out"
      line=$(OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE DJL_OFFLINE=true java -Xmx1g \
        -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1 \
        -cp "$PROBE/$x:${!x}:$(cat "$CP_FILE")" dev.distill.trainer.profiling.SpeedProbe \
        "$mode" "$out" "$REPS" "$CORPUS" 2>/dev/null | grep median)
      ops=$(python3 - "$out/$mode.json" <<'PY'
import json, sys
ev = [e for e in json.load(open(sys.argv[1])) if e.get("ph") == "X"]
ev.sort(key=lambda e: (e["ts"], -e["dur"]))
top, end = 0, -1
for e in ev:
    if e["ts"] >= end:
        top, end = top + 1, e["ts"] + e["dur"]
print(f"events {len(ev)} top-level {top}")
PY
)
      echo "round $r $x $mode: ${line%% all*} | $ops"
    done
  done
done | tee "$PROBE/rounds.txt"
python3 - "$PROBE/rounds.txt" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"round \d+ (\w) (\S+): \S+ cpu-ms/\w+ median ([\d.]+)", line)
    if m:
        rows.setdefault((m[2], m[1]), []).append(float(m[3]))
for mode in ("decode-gpt", "decode-llama", "train"):
    a, b = statistics.median(rows[(mode, "A")]), statistics.median(rows[(mode, "B")])
    print(f"{mode}: median of rounds A {a:.3f} ms, B {b:.3f} ms, B/A {b / a:.3f}")
PY
rm -rf "$PROBE"
