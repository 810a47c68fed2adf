#!/usr/bin/env bash
# Evidence of issue 15, ask 6 (student-trainer README, "Evidence: distillation methods"): for
# seeds 1 2 3,
#   arithmetic:  the demo's teacher and CoT student; per seed a supervised warm start, then
#                off-policy token KD, sequence-level KD, on-policy lambda 0.5 and 1.0 (JSD(0.1),
#                prompt up to "=\n", samples stop at the answer line's ".\n") from it at the same
#                teacher-token budget (on-policy rows counted by the positions actually sampled,
#                estimated per seed by a pilot) -> held-out exact match per slice (3-digit
#                add/sub/mul, 4-digit addition) and the held-out loss of the gold solutions;
#   shakespeare: hard-label, same-tokenizer KD, cross-tokenizer (ULD, span, span-debiased,
#                span-path) and hard-label BPE students -> held-out nats per character; mean +- sd.
# Teachers and warm starts are trained once and cached under $CACHE (default
# runs/.cache/methods-evidence). PARTS="arithmetic shakespeare" (default) runs both side by side,
# one libtorch thread each. Measured 2026-12-04 at load average about 20 on the 2-core machine:
# arithmetic teacher 42 min, warm starts 25 min (beside it, MethodsEvidence arithmetic-warm).
# Arithmetic students, teacher and warm starts cached: 8 min (2026-12-05, PARTS=arithmetic, load
# average 7 to 9; 17 min on 2026-12-04 at 20). Shakespeare, measured 2026-12-05 at load average
# 3-10: teacher 9 min; students 10-60 s each (21 runs: 8 min for 18 of them in two processes,
# 3 min for the other 3).
# Extra key=value arguments go to every part (e.g. steps=300).
# Usage: [PARTS=arithmetic] benchmarks/scripts/methods_evidence.sh [key=value ...]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
CP="$(benchmarks/scripts/classpath.sh)"
CACHE="${CACHE:-runs/.cache/methods-evidence}"
LOGS="${LOGS:-$(mktemp -d /tmp/methods-evidence.XXXXXX)}"
PARTS="${PARTS:-arithmetic shakespeare}"
export DJL_OFFLINE=true
JAVA=(java -Xmx3g -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1 -cp "$CP"
  dev.distill.benchmarks.trainer.MethodsEvidence)
COMMON=(cache="$CACHE" seeds=1,2,3 student.layers=2 student.heads=4 alpha=0.5 k=8)
declare -A ARGS=(
  [arithmetic]="teacher.layers=4 teacher.heads=4 teacher.embd=128 teacher.steps=3000 teacher.batch=24
    teacher.lr=0.002 problems=60000 student.embd=80 batch=32 T=1 pool=4000 warm.steps=1500
    warm.lr=0.003 steps=200 lr=0.001 on-policy.max-tokens=auto on-policy.beta=0.1 eval.problems=100"
  [shakespeare]="teacher.layers=4 teacher.heads=4 teacher.embd=128 teacher.steps=3000 teacher.batch=16
    teacher.lr=0.002 student.embd=48 steps=600 batch=16 T=2 eval.chars=10000"
)
echo "[methods_evidence] $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) logs: $LOGS"
PIDS=()
for part in $PARTS; do
  # shellcheck disable=SC2086
  "${JAVA[@]}" "$part" "${COMMON[@]}" ${ARGS[$part]} "$@" > "$LOGS/$part.log" 2>&1 &
  PIDS+=($!)
done
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
running() { for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while running; do
  sleep 60
  echo "[methods_evidence] $(date -u +%T) load: $(cut -d' ' -f1-3 /proc/loadavg)" \
    "results so far: $(cat "$LOGS"/*.log | grep -c '^RESULT' || true)"
done
RC=0
for p in "${PIDS[@]}"; do wait "$p" || RC=$?; done
trap - EXIT
for log in "$LOGS"/*.log; do
  grep -a '^\[evidence\]\|^RESULT\|^|\|^arith\|^shakes' "$log" || true
done
echo "[methods_evidence] $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg) exit: $RC"
exit $RC
