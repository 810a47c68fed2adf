#!/usr/bin/env bash
# distill's DJL trainer vs PyTorch eager on nanoGPT's baby GPT, in interleaved rounds:
#   distill, PyTorch as configured, PyTorch with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset
#   (for that command alone), PyTorch with those unset and distill's OMP_WAIT_POLICY, and again
#   ROUNDS times; then medians, val losses and the ratio of distill to the fastest PyTorch
#   configuration (issue 13), in tokens per second of wall time and per CPU-second of the process
#   (less sensitive to other processes on a shared machine).
# Usage: benchmarks/scripts/baby_gpt.sh [ITERS=2000] [ROUNDS=3]
#   CONFIGS="0 3" runs only distill (0) and PyTorch unset + PASSIVE (3), e.g. on a loaded machine
#   where the spin-waiting configurations (1, 2) take far too long. Config 4 is distill with
#   train.concurrent-micro-batches: the same 12 sequences a step as two micro-batches of 6 trained
#   at the same time, one intra-op thread each (`BabyGptBenchmark CORPUS ITERS 6 2 2`); it is not in
#   the default CONFIGS, which measure the launcher's defaults: CONFIGS="0 4 1" adds it.
# Needs Debian's python3-torch and libopenblas0-openmp (without OpenBLAS, Debian's torch falls
# back to the reference BLAS and is 30 times slower):
#   apt-get install -y python3-torch libopenblas0-openmp
# Builds the benchmarks module and what it depends on (test-compile: the reactor resolves the test-jars
# deploy and spark-jobs test against to their test-classes; never `mvn install`).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CORPUS="$ROOT/deploy/src/main/resources/corpus/tinyshakespeare.txt"
ITERS="${1:-2000}"
ROUNDS="${2:-3}"
PY=/usr/bin/python3
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
CPF="$TMP/classpath.txt"
(cd "$ROOT" && mvn -q -B -o -Dstyle.color=never -DskipTests -Dspotless.check.skip=true -pl benchmarks -am test-compile \
  dependency:build-classpath -Dmdep.outputFile="$CPF" -Dmdep.includeScope=runtime) >&2
# A copy of the compiled classes: editing and recompiling during a long run changes nothing here.
for m in schemas models student-trainer benchmarks; do cp -r "$ROOT/$m/target/classes" "$TMP/$m"; done
CP="$TMP/benchmarks:$TMP/student-trainer:$TMP/models:$TMP/schemas:$(cat "$CPF")"
CORES="$(nproc)"
export DJL_OFFLINE=true OMP_NUM_THREADS="${OMP_NUM_THREADS:-$CORES}"
# distill runs with the engine settings of the ./distill launcher (engine-env.sh).
# shellcheck source=../../engine-env.sh
source "$ROOT/engine-env.sh"

echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $CORES cores; $(uptime | sed 's/.*load/load/')"
echo "java: $(java -version 2>&1 | head -1); DJL 0.35.1, libtorch 2.7.1 (MKL)"
echo "pytorch: $("$PY" -c 'import torch; print(torch.__version__)'), BLAS $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"
echo "env: OMP_NUM_THREADS=$OMP_NUM_THREADS OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>}" \
  "OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-<unset>}; distill: ${DISTILL_ENGINE_ENV[*]} ${DISTILL_ENGINE_PROPS[*]}"
echo "iters=$ITERS rounds=$ROUNDS"

field() { sed -E "s/.* $1=([0-9.]+).*/\1/"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
NAMES=("distill" "pytorch as configured" "pytorch, OPENBLAS_* unset" "pytorch, unset + distill's OpenMP wait"
  "distill, 2 concurrent micro-batches of 6")
declare -A TPS CPS VAL
run_config() {
  case "$1" in
    0) env "${DISTILL_ENGINE_ENV[@]}" java -Xmx2g "${DISTILL_ENGINE_PROPS[@]}" -cp "$CP" \
         dev.distill.benchmarks.trainer.BabyGptBenchmark "$CORPUS" "$ITERS" ;;
    1) "$PY" "$ROOT/benchmarks/scripts/baby_gpt_pytorch.py" "$CORPUS" "$ITERS" ;;
    2) env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" \
         "$ROOT/benchmarks/scripts/baby_gpt_pytorch.py" "$CORPUS" "$ITERS" ;;
    3) env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${DISTILL_ENGINE_ENV[@]}" "$PY" \
         "$ROOT/benchmarks/scripts/baby_gpt_pytorch.py" "$CORPUS" "$ITERS" ;;
    4) env "${DISTILL_ENGINE_ENV[@]}" java -Xmx2g "${DISTILL_ENGINE_PROPS[@]}" -cp "$CP" \
         dev.distill.benchmarks.trainer.BabyGptBenchmark "$CORPUS" "$ITERS" 6 2 2 ;;
  esac
}
CONFIGS="${CONFIGS:-0 1 2 3}"
for r in $(seq 1 "$ROUNDS"); do
  for c in $CONFIGS; do
    line=$(run_config "$c" | tail -1)
    printf 'round %d %-44s %s (%s)\n' "$r" "${NAMES[$c]}:" "$line" "$(uptime | sed 's/.*load/load/')"
    TPS[$c]+="$(echo "$line" | field tokens_per_second) "
    CPS[$c]+="$(echo "$line" | field tokens_per_cpu_second) "
    VAL[$c]="$(echo "$line" | field val_loss)"
  done
done
best=0 bestc=1 bestcpu=0
for c in $CONFIGS; do
  { [ "$c" = 0 ] || [ "$c" = 4 ]; } && continue
  # shellcheck disable=SC2086
  m=$(median ${TPS[$c]}) mc=$(median ${CPS[$c]})
  if awk -v a="$m" -v b="$best" 'BEGIN{exit !(a>b)}'; then best=$m bestc=$c; fi
  if awk -v a="$mc" -v b="$bestcpu" 'BEGIN{exit !(a>b)}'; then bestcpu=$mc; fi
done
echo
printf '%-46s %16s %22s %9s\n' "configuration" "median tokens/s" "median tokens/cpu-s" "val loss"
for c in $CONFIGS; do
  # shellcheck disable=SC2086
  printf '%-46s %16s %22s %9s\n' "${NAMES[$c]}" "$(median ${TPS[$c]})" "$(median ${CPS[$c]})" "${VAL[$c]}"
done
# shellcheck disable=SC2086
md=$(median ${TPS[0]}) mdc=$(median ${CPS[0]})
echo "ratio distill / fastest pytorch (${NAMES[$bestc]}): $(awk -v a="$md" -v b="$best" 'BEGIN{printf "%.2f", a/b}')x tokens/s;" \
  "$(awk -v a="$mdc" -v b="$bestcpu" 'BEGIN{printf "%.2f", a/b}')x tokens per CPU-second (fastest pytorch by that measure)"
if [[ " $CONFIGS " == *" 4 "* ]]; then
  # shellcheck disable=SC2086
  m4=$(median ${TPS[4]}) m4c=$(median ${CPS[4]})
  echo "ratio ${NAMES[4]} / fastest pytorch (${NAMES[$bestc]}): $(awk -v a="$m4" -v b="$best" 'BEGIN{printf "%.2f", a/b}')x tokens/s;" \
    "$(awk -v a="$m4c" -v b="$bestcpu" 'BEGIN{printf "%.2f", a/b}')x tokens per CPU-second"
fi
echo "load after: $(uptime | sed 's/.*load/load/')"
