#!/usr/bin/env bash
# Submits one distill Spark job: submit.sh MAIN_CLASS [job options...]
#
# Environment (all optional):
#   SPARK_HOME / SPARK_SUBMIT   spark-submit to run (default: $SPARK_HOME/bin/spark-submit, else
#                               spark-submit on PATH)
#   DISTILL_APP_JAR             the application jar (default: the newest
#                               spark-jobs/target/spark-jobs-*-app.jar of this checkout)
#   DISTILL_SPARK_MASTER        --master (default: local[*])
#   DISTILL_DEPLOY_MODE         client (default) or cluster
#   DISTILL_SPARK_PROPERTIES    a spark-defaults style file passed as --properties-file
#   DISTILL_KAFKA_PROPERTIES    a Kafka client properties file (SASL/SSL...); IngestJob only:
#                               each key=value line becomes --kafka-option key=value
#   DISTILL_SPARK_ARGS          extra spark-submit arguments, word-split (e.g. "--num-executors 4")
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: submit.sh MAIN_CLASS [job options...]" >&2
  exit 2
fi
class="$1"
shift

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

submit="${SPARK_SUBMIT:-}"
if [[ -z "$submit" ]]; then
  if [[ -n "${SPARK_HOME:-}" ]]; then submit="$SPARK_HOME/bin/spark-submit"; else submit="spark-submit"; fi
fi

jar="${DISTILL_APP_JAR:-}"
if [[ -z "$jar" ]]; then
  jar="$(ls -t "$root"/spark-jobs/target/spark-jobs-*-app.jar 2>/dev/null | head -n 1 || true)"
fi
if [[ -z "$jar" || ! -f "$jar" ]]; then
  echo "error: no application jar; build it with 'mvn -pl spark-jobs -am package' or set DISTILL_APP_JAR" >&2
  exit 2
fi

mode="${DISTILL_DEPLOY_MODE:-client}"
if [[ "$mode" != client && "$mode" != cluster ]]; then
  echo "error: DISTILL_DEPLOY_MODE must be client or cluster, got $mode" >&2
  exit 2
fi

args=(--master "${DISTILL_SPARK_MASTER:-local[*]}" --deploy-mode "$mode" --class "$class")
# Spark 4.2 refuses local masters in cluster mode; that is spark-submit's error to give.
if [[ -n "${DISTILL_SPARK_PROPERTIES:-}" ]]; then
  args+=(--properties-file "$DISTILL_SPARK_PROPERTIES")
fi
if [[ -n "${DISTILL_SPARK_ARGS:-}" ]]; then
  # shellcheck disable=SC2206
  args+=(${DISTILL_SPARK_ARGS})
fi

job=("$@")
if [[ "$class" == dev.distill.spark.jobs.IngestJob && -n "${DISTILL_KAFKA_PROPERTIES:-}" ]]; then
  if [[ ! -r "$DISTILL_KAFKA_PROPERTIES" ]]; then
    echo "error: cannot read DISTILL_KAFKA_PROPERTIES=$DISTILL_KAFKA_PROPERTIES" >&2
    exit 2
  fi
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line#"${line%%[![:space:]]*}"}"
    [[ -z "$line" || "$line" == \#* || "$line" == \!* ]] && continue
    if [[ "$line" != *=* ]]; then
      echo "error: $DISTILL_KAFKA_PROPERTIES: not key=value: $line" >&2
      exit 2
    fi
    job+=(--kafka-option "$line")
  done < "$DISTILL_KAFKA_PROPERTIES"
fi

# The job prints its output path on stdout and exits 0 ok, 1 failure, 2 usage: exec keeps both.
exec "$submit" "${args[@]}" "$jar" "${job[@]}"
