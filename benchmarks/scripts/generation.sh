#!/usr/bin/env bash
# Batch-1 decoding with a KV cache, distill (models' GenerationBenchmark, Sampler.generate with
# Decoding.KV_CACHE, DENSE) vs PyTorch eager (generate_kv_pytorch.py), same model shape (the demo's
# 0.8M teacher), prompt 16, 48 new tokens at temperature 1; interleaved rounds, medians (issue 13).
# Each side runs under the same OpenMP wait policies (PASSIVE, the launchers' setting until session 7, and the OpenMP
# default), like against like; PyTorch also with one thread (what distill's batch-1 step uses).
# Usage: benchmarks/scripts/generation.sh [ROUNDS=3] [REPEATS per run=5]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
ROUNDS="${1:-3}"
REPEATS="${2:-5}"
PY=/usr/bin/python3
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(cd "$ROOT" && mvn -q -B -o -Dstyle.color=never -DskipTests -Dspotless.check.skip=true -pl benchmarks -am \
  test-compile dependency:build-classpath -Dmdep.outputFile="$TMP/cp.txt" -Dmdep.includeScope=runtime) >&2
for m in schemas models benchmarks; do cp -r "$ROOT/$m/target/classes" "$TMP/$m"; done
CP="$TMP/benchmarks:$TMP/models:$TMP/schemas:$(cat "$TMP/cp.txt")"
export DJL_OFFLINE=true OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
# shellcheck source=../../engine-env.sh
source "$ROOT/engine-env.sh"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(uptime | sed 's/.*load/load/')"
echo "distill: ${DISTILL_ENGINE_PROPS[*]}; OMP_NUM_THREADS=$OMP_NUM_THREADS; each side once with OMP_WAIT_POLICY=PASSIVE and once with the OpenMP default (unset); the launchers set GOMP_SPINCOUNT=1000 (engine-env.sh), and batch-1 steps run on one thread either way"
# distill tokens/s of Sampler.generate (KV cache, DENSE, batch 1) under wait policy $1 ("" = unset)
distill() {
  env -u OMP_WAIT_POLICY ${1:+OMP_WAIT_POLICY=$1} java -Xmx1g "${DISTILL_ENGINE_PROPS[@]}" -cp "$CP" \
    dev.distill.benchmarks.models.GenerationBenchmark "$REPEATS" 16 48 DENSE 1 cached \
    | grep -A2 "^Sampler.generate" | awk '$1=="DENSE"{print $3}'
}
# PyTorch tokens/s under wait policy $1 ("" = unset) and OMP_NUM_THREADS $2
pytorch() {
  env -u OMP_WAIT_POLICY ${1:+OMP_WAIT_POLICY=$1} OMP_NUM_THREADS="$2" \
    "$PY" "$ROOT/benchmarks/scripts/generate_kv_pytorch.py" "$REPEATS" 16 48 \
    | sed -E 's/.*tokens_per_second=([0-9.]+).*/\1/'
}
DP="" DD="" PP="" PD="" P1=""
for r in $(seq 1 "$ROUNDS"); do
  dp=$(distill PASSIVE) pp=$(pytorch PASSIVE "$OMP_NUM_THREADS")
  dd=$(distill "") pd=$(pytorch "" "$OMP_NUM_THREADS") p1=$(pytorch "" 1)
  echo "round $r tok/s: PASSIVE distill $dp pytorch $pp | default policy distill $dd pytorch $pd | pytorch 1 thread $p1 ($(uptime | sed 's/.*load/load/'))"
  DP+="$dp " DD+="$dd " PP+="$pp " PD+="$pd " P1+="$p1 "
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
# shellcheck disable=SC2086
mdp=$(median $DP) mdd=$(median $DD) mpp=$(median $PP) mpd=$(median $PD) mp1=$(median $P1)
bd=$(printf '%s\n' "$mdp" "$mdd" | sort -n | tail -1)
bp=$(printf '%s\n' "$mpp" "$mpd" "$mp1" | sort -n | tail -1)
echo "median tok/s: PASSIVE distill $mdp pytorch $mpp ($(ratio "$mdp" "$mpp")x) | default policy distill $mdd pytorch $mpd ($(ratio "$mdd" "$mpd")x) | pytorch 1 thread $mp1"
echo "faster distill / fastest pytorch configuration: $bd / $bp = $(ratio "$bd" "$bp")x"
