#!/usr/bin/env bash
# Runs the JMH microbenchmarks of the benchmarks module (classes with @Benchmark methods; JMH's
# annotation processor lists them in benchmarks/target/classes/META-INF/BenchmarkList).
# Usage: benchmarks/scripts/jmh.sh [JMH options] [benchmark regex]
#   benchmarks/scripts/jmh.sh SoftLabelCodec          the annotated defaults: 1 fork, 3 x 1 s
#                                                     warm-up, 5 x 1 s measurement per method
#   benchmarks/scripts/jmh.sh -f 0 -wi 1 -i 1 -w 1s -r 1s SoftLabelCodec    a smoke run
#   benchmarks/scripts/jmh.sh -l                      list; -h: JMH's options
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CP="$("$ROOT/benchmarks/scripts/classpath.sh")"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(uptime | sed 's/.*load/load/')"
# Forked runs (-f 1, the default) start their JVMs with this same class path.
exec java -cp "$CP" org.openjdk.jmh.Main "$@"
