#!/usr/bin/env bash
# Compiles the benchmarks module and what it depends on (reactor classes, never `mvn install`) and
# prints the class path that runs any benchmark main of it:
#   java -cp "$(benchmarks/scripts/classpath.sh)" dev.distill.benchmarks.<area>.<Class> ARGS
# Build output goes to stderr; only the class path goes to stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CPF="$ROOT/benchmarks/target/classpath.txt"
(cd "$ROOT" && mvn -q -B -o -Dstyle.color=never -DskipTests -Dspotless.check.skip=true -pl benchmarks -am test-compile \
  dependency:build-classpath -Dmdep.outputFile="$CPF" -Dmdep.includeScope=runtime) >&2
echo "$ROOT/benchmarks/target/classes:$(cat "$CPF")"
