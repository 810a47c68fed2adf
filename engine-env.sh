# Engine settings distill's JVMs run with, sourced by the ./distill launcher and
# benchmarks/scripts/baby_gpt.sh and generation.sh
# so the benchmark measures what users get. DISTILL_ENGINE_ENV: environment (VAR=value);
# DISTILL_ENGINE_PROPS: JVM system properties. A user's own setting of each variable wins.
#
# libtorch's OpenMP workers (GNU libgomp) spin for GOMP_SPINCOUNT iterations after a parallel
# region before they sleep (libgomp's estimate: about 100,000 spins a millisecond). Its default,
# 300,000 (about 3 ms), collapses on a shared or oversubscribed CPU: the spinning steals the core the
# other worker needs (one baby-GPT training step took 4,020 ms with the default and 86 ms with
# OMP_WAIT_POLICY=PASSIVE at load average 14 on 2 cores, student-trainer README; one
# teacher-service instance ran at 52 prompts/s with the default and 196 with PASSIVE). PASSIVE
# (never spin) is safe but costs an idle machine about a third of its training speed, because the
# worker is put to sleep and woken between every two ops. GOMP_SPINCOUNT=1000 (about 10 us) spans
# the gap between two ops of a step without holding a core for long: baby GPT, 150 iterations at
# load average 9-13, 2 rounds: PASSIVE 5,742 / 8,364 tokens/s, 1,000 spins 6,623 / 6,196, 10,000
# spins 1,384 / 1,471 (collapsed); on the idle machine see the student-trainer README. A user's own
# OMP_WAIT_POLICY or GOMP_SPINCOUNT wins (OMP_WAIT_POLICY=ACTIVE on a dedicated machine).
# Intra-op threads = cores, inter-op threads 1 (DJL's ai.djl.pytorch.num_threads and
# num_interop_threads, read when the engine loads): one op at a time uses every core; nothing here
# runs independent ops in parallel.
_cores="$(nproc 2>/dev/null || echo 1)"
if [ -n "${OMP_WAIT_POLICY+x}" ]; then
  # The user's policy, and GOMP_SPINCOUNT only if they set it too (it overrides the policy's spins).
  DISTILL_ENGINE_ENV=("OMP_WAIT_POLICY=$OMP_WAIT_POLICY")
  if [ -n "${GOMP_SPINCOUNT+x}" ]; then DISTILL_ENGINE_ENV+=("GOMP_SPINCOUNT=$GOMP_SPINCOUNT"); fi
else
  DISTILL_ENGINE_ENV=("GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-1000}")
fi
DISTILL_ENGINE_PROPS=("-Dai.djl.pytorch.num_threads=${DISTILL_INTRA_OP_THREADS:-$_cores}"
  "-Dai.djl.pytorch.num_interop_threads=${DISTILL_INTER_OP_THREADS:-1}")
unset _cores
