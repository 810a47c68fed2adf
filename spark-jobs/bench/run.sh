#!/usr/bin/env bash
# Curate throughput vs a plain Parquet read+write, at N and 10 N records, on local[2].
# usage: bash spark-jobs/bench/run.sh [N=10000] [positions=128]   (from the repository root)
# Needs the test classes: mvn -B -o -q -pl spark-jobs -am -DskipTests -Dspotless.check.skip=true test-compile
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
cp_file="spark-jobs/target/bench-classpath.txt"
mvn -B -o -q -pl spark-jobs dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile="$root/$cp_file" >/dev/null
flags=$(sed -n 's:.*<spark.jvm.flags>\(.*\)</spark.jvm.flags>.*:\1:p' pom.xml | head -n 1)
# shellcheck disable=SC2086
exec java $flags -Xmx4g \
  -cp "spark-jobs/target/test-classes:spark-jobs/target/classes:schemas/target/classes:$(cat "$cp_file")" \
  dev.distill.spark.bench.CurateBenchmark "$@"
