#!/usr/bin/env bash
# spark-submit dev.distill.spark.jobs.FuseJob; options: see README.md (environment: submit.sh).
exec "$(dirname "${BASH_SOURCE[0]}")/submit.sh" dev.distill.spark.jobs.FuseJob "$@"
