#!/usr/bin/env bash
# Curate throughput vs a plain Parquet read+write, at N and 10 N records, on local[2].
# usage: bash spark-jobs/bench/run.sh [N=10000] [positions=128] [rounds=3] [once] [quality] [jobs] [shuffle=A,B]   (from the repository root)
# BENCH_JAVA_OPTS: extra JVM options, e.g. -Dspark.sql.inMemoryColumnarStorage.compressed=false
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
cp_file="spark-jobs/target/bench-classpath.txt"
# Compiles (reactor: schemas resolves to its target/classes, nothing is installed) and writes the
# test classpath; the last module built, spark-jobs, writes the file last.
mvn -B -o -q -pl spark-jobs -am test-compile dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile="$root/$cp_file"
flags=$(sed -n 's:.*<spark.jvm.flags>\(.*\)</spark.jvm.flags>.*:\1:p' pom.xml | head -n 1)
# shellcheck disable=SC2086
exec java $flags -Xmx4g ${BENCH_JAVA_OPTS:-} \
  -cp "spark-jobs/target/test-classes:spark-jobs/target/classes:schemas/target/classes:$(cat "$cp_file")" \
  dev.distill.spark.bench.CurateBenchmark "$@"
