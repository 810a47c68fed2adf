# Engine settings distill's JVMs run with, sourced by the ./distill launcher and
# benchmarks/scripts/baby_gpt.sh and generation.sh
# so the benchmark measures what users get. DISTILL_ENGINE_ENV: environment (VAR=value);
# DISTILL_ENGINE_PROPS: JVM system properties. A user's own setting of each variable wins.
#
# OMP_WAIT_POLICY=PASSIVE: libtorch's OpenMP workers sleep between parallel regions instead of
# spinning. On a shared or oversubscribed CPU the spinning steals the cores the other worker needs:
# one baby-GPT training step took 4,020 ms with the default and 86 ms with PASSIVE at load average
# 14 on 2 cores (student-trainer README, "Where a training step spends its time"); one
# teacher-service instance ran at 52 prompts/s with the default and 196 with PASSIVE (its README).
# Intra-op threads = cores, inter-op threads 1 (DJL's ai.djl.pytorch.num_threads and
# num_interop_threads, read when the engine loads): one op at a time uses every core; nothing here
# runs independent ops in parallel.
_cores="$(nproc 2>/dev/null || echo 1)"
DISTILL_ENGINE_ENV=("OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}")
DISTILL_ENGINE_PROPS=("-Dai.djl.pytorch.num_threads=${DISTILL_INTRA_OP_THREADS:-$_cores}"
  "-Dai.djl.pytorch.num_interop_threads=${DISTILL_INTER_OP_THREADS:-1}")
unset _cores
