#!/usr/bin/env bash
# Batch-1 decoding with a KV cache, distill (models' GenerationBenchmark, Sampler.generate with
# Decoding.KV_CACHE, DENSE) vs PyTorch eager (generate_kv_pytorch.py), same model shape (the demo's
# 0.8M teacher), prompt 16, 48 new tokens at temperature 1; interleaved rounds, medians (issue 13).
# Usage: benchmarks/scripts/generation.sh [ROUNDS=3] [REPEATS per run=5]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
ROUNDS="${1:-3}"
REPEATS="${2:-5}"
PY=/usr/bin/python3
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(cd "$ROOT" && mvn -q -B -o -Dstyle.color=never -DskipTests -Dspotless.check.skip=true -pl benchmarks -am \
  compile dependency:build-classpath -Dmdep.outputFile="$TMP/cp.txt" -Dmdep.includeScope=runtime) >&2
for m in schemas models benchmarks; do cp -r "$ROOT/$m/target/classes" "$TMP/$m"; done
CP="$TMP/benchmarks:$TMP/models:$TMP/schemas:$(cat "$TMP/cp.txt")"
export DJL_OFFLINE=true OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
# shellcheck source=../../engine-env.sh
source "$ROOT/engine-env.sh"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(uptime | sed 's/.*load/load/')"
echo "distill: ${DISTILL_ENGINE_ENV[*]} ${DISTILL_ENGINE_PROPS[*]}; OMP_NUM_THREADS=$OMP_NUM_THREADS"
D="" P="" W=""
for r in $(seq 1 "$ROUNDS"); do
  d=$(env "${DISTILL_ENGINE_ENV[@]}" java -Xmx1g "${DISTILL_ENGINE_PROPS[@]}" -cp "$CP" \
    dev.distill.benchmarks.models.GenerationBenchmark "$REPEATS" 16 48 DENSE 1 \
    | grep -A2 "^Sampler.generate" | awk '$1=="DENSE"{print $3}')
  p=$("$PY" "$ROOT/benchmarks/scripts/generate_kv_pytorch.py" "$REPEATS" 16 48 | sed -E 's/.*tokens_per_second=([0-9.]+).*/\1/')
  w=$(env "${DISTILL_ENGINE_ENV[@]}" "$PY" "$ROOT/benchmarks/scripts/generate_kv_pytorch.py" "$REPEATS" 16 48 \
    | sed -E 's/.*tokens_per_second=([0-9.]+).*/\1/')
  echo "round $r: distill cached $d tok/s | pytorch kv $p | pytorch kv + distill's OMP_WAIT_POLICY $w ($(uptime | sed 's/.*load/load/'))"
  D+="$d " P+="$p " W+="$w "
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# shellcheck disable=SC2086
md=$(median $D) mp=$(median $P) mw=$(median $W)
best=$(awk -v a="$mp" -v b="$mw" 'BEGIN{print (a>b?a:b)}')
echo "median tokens/s: distill $md | pytorch $mp | pytorch + PASSIVE $mw; ratio distill / faster pytorch $(awk -v a="$md" -v b="$best" 'BEGIN{printf "%.2f", a/b}')x"
