#!/usr/bin/env bash
# Side by side on this machine: distill's DJL trainer vs PyTorch eager on nanoGPT's baby GPT.
# Needs Debian's python3-torch and libopenblas0-openmp (without OpenBLAS, Debian's torch falls
# back to the reference BLAS and is 30 times slower):
#   apt-get install -y python3-torch libopenblas0-openmp
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CORPUS="$ROOT/deploy/src/main/resources/corpus/tinyshakespeare.txt"
ITERS="${1:-2000}"
(cd "$ROOT" && mvn -q -B -DskipTests -Dassembly.skipAssembly=true package -pl deploy -am)
export DJL_OFFLINE=true OMP_NUM_THREADS=2
djl=$(java -Xmx4g -cp "$ROOT/deploy/target/deploy-0.1.0-SNAPSHOT.jar:$ROOT/deploy/target/lib/*" \
  dev.distill.trainer.bench.BabyGptBenchmark "$CORPUS" "$ITERS" | tail -1)
echo "$djl"
pt=$(/usr/bin/python3 "$ROOT/student-trainer/bench/baby_gpt_pytorch.py" "$CORPUS" "$ITERS" | tail -1)
echo "$pt"
a=$(echo "$djl" | sed -E 's/.*tokens_per_second=([0-9]+).*/\1/')
b=$(echo "$pt" | sed -E 's/.*tokens_per_second=([0-9]+).*/\1/')
echo "ratio distill/pytorch tokens per second: $(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", a/b}')"
