"""Nightly distillation: label -> curate -> train -> eval, with gates.

Every task is idempotent per run date: the run id is the logical date (``ds``), every output lives
under ``{RUNS}/{ds}/``, and each command replaces its output, so a retry or a backfill of one date
never duplicates or mixes data. ``distill label`` is teacher-service's batch mode: the date's
prompts (``{PROMPTS}/{ds}.jsonl``, JSON Lines, or a Parquet file or folder) to teacher-output
Parquet under ``{RUNS}/{ds}/teacher-outputs``, published with ``_SUCCESS`` (a re-run replaces it);
CurateJob reads that layout directly. Batch mode writes no Kafka topic, so there is no ingest step
here: IngestJob is the streaming path, for outputs of the always-on ``distill serve`` (Kafka topic
``distill.teacher-outputs``; ``deploy/k8s/teacher-service.yaml`` + ``spark-ingest.yaml``).

Gates: the curation gate stops the run when curation kept fewer than MIN_KEPT examples; ``distill
eval --gate`` exits 1 when the student misses its quality bar, which fails the task, so the
``publish`` step only runs for a student that passed.

The commands are plain argv lists in COMMANDS (DeployFilesTest checks every one of them against
the real ``distill`` command line and Spark job classes); the same chain runs from cron via
``pipeline.sh``.
"""

import json
import os
from datetime import datetime, timedelta

RUNS = os.environ.get("DISTILL_RUNS", "/data/runs")
DISTILL = os.environ.get("DISTILL_HOME", "/opt/distill") + "/bin/distill"
SPARK_JAR = os.environ.get("DISTILL_SPARK_JAR", "/opt/distill/spark-jobs-app.jar")
PROMPTS = os.environ.get("DISTILL_PROMPTS", "/data/prompts")
TEACHER = os.environ.get("DISTILL_TEACHER_CHECKPOINT", "/data/models/teacher")
RUN = RUNS + "/{{ ds }}"
MIN_KEPT = 1000

COMMANDS = {
    "label": [
        "distill", "label",
        "--checkpoint", TEACHER,
        "--input", PROMPTS + "/{{ ds }}.jsonl",
        "--output", RUN + "/teacher-outputs",
        "--run-id", "{{ ds }}",
    ],
    "curate": [
        "spark-submit", "--master", "yarn", "--deploy-mode", "cluster",
        "--class", "dev.distill.spark.jobs.CurateJob", SPARK_JAR,
        "--input", RUN + "/teacher-outputs",
        "--output", RUN + "/curated",
        "--report", RUN + "/curation-report.json",
        "--near-dup-threshold", "0.8",
    ],
    "train": [
        "distill", "train",
        "--curated", RUN + "/curated",
        "--output", RUN + "/models/kd-student",
        "--tokenizer", TEACHER + "/tokenizer.json",
        "--config", "/etc/distill",
    ],
    "eval": [
        "distill", "eval",
        "--run-dir", RUN,
        "--gate", "student.val_loss <= teacher.val_loss + 0.25",
    ],
}
ORDER = ["label", "curate", "train", "eval"]


def curation_kept(run_dir):
    """Examples curation kept on this date (the gate between curate and train)."""
    with open(os.path.join(run_dir, "curation-report.json")) as f:
        return json.load(f)["kept"]


def build_dag():
    # Airflow is imported here so this file parses (and is tested) without an Airflow install.
    from airflow import DAG
    from airflow.operators.bash import BashOperator
    from airflow.operators.python import ShortCircuitOperator

    import shlex

    def bash(argv):
        exe = {"distill": DISTILL}.get(argv[0], argv[0])
        return " ".join([shlex.quote(exe)] + [shlex.quote(a) for a in argv[1:]])

    with DAG(
        dag_id="distill_nightly",
        start_date=datetime(2026, 1, 1),
        schedule="@daily",
        catchup=False,
        max_active_runs=1,
        default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
        tags=["distill"],
    ) as dag:
        tasks = {name: BashOperator(task_id=name, bash_command=bash(COMMANDS[name])) for name in ORDER}
        curation_gate = ShortCircuitOperator(
            task_id="curation_gate",
            python_callable=lambda ds: curation_kept(RUNS + "/" + ds) >= MIN_KEPT,
            op_kwargs={"ds": "{{ ds }}"},
        )
        publish = BashOperator(
            task_id="publish",
            bash_command="ln -sfn " + RUN + "/models/kd-student " + RUNS + "/latest-student",
        )
        tasks["label"] >> tasks["curate"] >> curation_gate
        curation_gate >> tasks["train"] >> tasks["eval"] >> publish
    return dag


try:
    dag = build_dag()
except ImportError:  # no Airflow here: the module still parses, COMMANDS stay importable
    dag = None
