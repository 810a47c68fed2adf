#!/usr/bin/env bash
# Curate throughput vs a plain Parquet read+write, at N and 10 N records, on local[2].
# usage: bash spark-jobs/bench/run.sh [N=10000] [positions=128] [rounds=3] [once] [quality] [jobs] [decontaminate] [nonear] [shuffle=A,B]   (from the repository root)
# BENCH_JAVA_OPTS: extra JVM options, e.g. -Dspark.sql.inMemoryColumnarStorage.compressed=false
exec bash "$(dirname "${BASH_SOURCE[0]}")/java.sh" dev.distill.spark.bench.CurateBenchmark "$@"
