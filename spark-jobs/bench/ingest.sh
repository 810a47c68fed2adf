#!/usr/bin/env bash
# IngestJob (AvailableNow, Kafka -> raw Parquet) vs a plain KafkaConsumer reading the same topic,
# interleaved rounds on local[2] with an in-JVM KRaft broker.
# usage: bash spark-jobs/bench/ingest.sh [N=20000] [positions=128] [rounds=3] [partitions=2]   (from the repository root)
# BENCH_JAVA_OPTS: extra JVM options
exec bash "$(dirname "${BASH_SOURCE[0]}")/java.sh" dev.distill.spark.bench.IngestBenchmark "$@"
