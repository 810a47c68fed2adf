#!/usr/bin/env bash
# The nightly chain of distill_pipeline.py for cron, without Airflow:
#   0 2 * * *  /opt/distill/deploy/airflow/pipeline.sh >> /var/log/distill.log 2>&1
# Usage: pipeline.sh [RUN_DATE]   (default: today, UTC). Idempotent per run date: outputs live under
# $DISTILL_RUNS/<date>/, ingest resumes from that date's checkpoint, the other steps replace their
# output. Stops at the first failing step (gates exit 1).
set -euo pipefail
ds="${1:-$(date -u +%F)}"
RUNS="${DISTILL_RUNS:-/data/runs}"
DISTILL="${DISTILL_HOME:-/opt/distill}/bin/distill"
SPARK_JAR="${DISTILL_SPARK_JAR:-/opt/distill/spark-jobs-app.jar}"
KAFKA="${DISTILL_KAFKA_BOOTSTRAP_SERVERS:-kafka:9092}"
MIN_KEPT="${DISTILL_MIN_KEPT:-1000}"
run="$RUNS/$ds"
topic="distill.teacher-outputs.$ds"
mkdir -p "$run"
step() { echo "[$(date -u +%T)] $*"; }

step label
"$DISTILL" label --run-id "$ds" --bootstrap-servers "$KAFKA" --topic "$topic" --config /etc/distill

step ingest
spark-submit --master yarn --deploy-mode cluster --class dev.distill.spark.jobs.IngestJob "$SPARK_JAR" \
  --bootstrap-servers "$KAFKA" --topic "$topic" --output "$run/raw" --quarantine "$run/quarantine" \
  --checkpoint "$run/checkpoints/ingest"

step curate
spark-submit --master yarn --deploy-mode cluster --class dev.distill.spark.jobs.CurateJob "$SPARK_JAR" \
  --input "$run/raw" --output "$run/curated" --report "$run/curation-report.json" \
  --near-dup-threshold 0.8

step curation gate
kept="$(sed -n 's/.*"kept": *\([0-9]*\).*/\1/p' "$run/curation-report.json" | head -1)"
if [ "${kept:-0}" -lt "$MIN_KEPT" ]; then
  echo "curation kept ${kept:-0} < $MIN_KEPT examples; stopping" >&2
  exit 1
fi

step train
"$DISTILL" train --curated "$run/curated" --output "$run/models/kd-student" \
  --tokenizer "${DISTILL_TOKENIZER:-/data/models/teacher/tokenizer.json}" --config /etc/distill

step eval
"$DISTILL" eval --run-dir "$run" --gate 'student.val_loss <= teacher.val_loss + 0.25'

step publish
ln -sfn "$run/models/kd-student" "$RUNS/latest-student"
