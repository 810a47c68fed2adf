#!/usr/bin/env bash
# The nightly chain of distill_pipeline.py for cron, without Airflow:
#   0 2 * * *  /opt/distill/deploy/airflow/pipeline.sh >> /var/log/distill.log 2>&1
# Usage: pipeline.sh [RUN_DATE]   (default: today, UTC). Idempotent per run date: outputs live under
# $DISTILL_RUNS/<date>/, the date's soft labels go through its own topic distill.batch-labels.<date>
# (label produces transactionally; ingest reads read_committed with a per-date streaming
# checkpoint; a re-run's duplicates are removed by curation's exact dedupe; see the DAG).
# Stops at the first failing step (gates exit 1).
set -euo pipefail
ds="${1:-$(date -u +%F)}"
RUNS="${DISTILL_RUNS:-/data/runs}"
DISTILL="${DISTILL_HOME:-/opt/distill}/bin/distill"
SPARK_JAR="${DISTILL_SPARK_JAR:-/opt/distill/spark-jobs-app.jar}"
PROMPTS="${DISTILL_PROMPTS:-/data/prompts}"
TEACHER="${DISTILL_TEACHER_CHECKPOINT:-/data/models/teacher}"
MIN_KEPT="${DISTILL_MIN_KEPT:-1000}"
KAFKA="${DISTILL_KAFKA:-kafka:9092}"
TOPIC="distill.batch-labels.$ds"
run="$RUNS/$ds"
mkdir -p "$run"
step() { echo "[$(date -u +%T)] $*"; }

step label
"$DISTILL" label --checkpoint "$TEACHER" --input "$PROMPTS/$ds.jsonl" --run-id "$ds" \
  --bootstrap-servers "$KAFKA" --outputs-topic "$TOPIC" --create-topic

step ingest
spark-submit --master yarn --deploy-mode cluster --class dev.distill.spark.jobs.IngestJob "$SPARK_JAR" \
  --bootstrap-servers "$KAFKA" --topic "$TOPIC" --output "$run/teacher-outputs" \
  --quarantine "$run/quarantine" --checkpoint "$run/ingest-checkpoint" --trigger available-now

step curate
spark-submit --master yarn --deploy-mode cluster --class dev.distill.spark.jobs.CurateJob "$SPARK_JAR" \
  --input "$run/teacher-outputs" --output "$run/curated" --report "$run/curation-report.json" \
  --near-dup-threshold 0.8

step curation gate
kept="$(sed -n 's/.*"kept": *\([0-9]*\).*/\1/p' "$run/curation-report.json" | head -1)"
if [ "${kept:-0}" -lt "$MIN_KEPT" ]; then
  echo "curation kept ${kept:-0} < $MIN_KEPT examples; stopping" >&2
  exit 1
fi

step train
"$DISTILL" train --curated "$run/curated" --output "$run/models/kd-student" \
  --tokenizer "${DISTILL_TOKENIZER:-$TEACHER/tokenizer.json}" --config /etc/distill

step eval
"$DISTILL" eval --run-dir "$run" --gate 'student.val_loss <= teacher.val_loss + 0.25'

step publish
ln -sfn "$run/models/kd-student" "$RUNS/latest-student"
