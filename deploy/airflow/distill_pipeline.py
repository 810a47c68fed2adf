"""Nightly distillation: label -> ingest -> curate -> train -> eval, with gates.

Every task is idempotent per run date: the run id is the logical date (``ds``), every output lives
under ``{RUNS}/{ds}/`` and the date's soft labels travel through the date's own topic
(``distill.batch-labels.{ds}``), so a retry or a backfill of one date never mixes dates.

- ``distill label`` (teacher-service's batch mode) labels the date's prompts
  (``{PROMPTS}/{ds}.jsonl``) and produces the TeacherOutput records to that topic with the service
  loop's transactional producer, one transaction per teacher batch (transactional id
  ``distill-label-{ds}``, so a retry fences a stale producer of the same date).
- ``ingest`` is IngestJob (``Trigger.AvailableNow``, ``read_committed``): what the topic holds and
  the date's streaming checkpoint has not yet seen, to ``{RUNS}/{ds}/teacher-outputs``.
- A retried label task produces its records again; ingest then adds them a second time, and
  CurateJob removes the copies (chunk reassembly merges repeated chunks of a record id, exact
  deduplication keeps one of equal token sequences), so the curated output of a date is the same
  after any number of retries (LabelCommandIT runs this chain with a retry).

Gates: the curation gate stops the run when curation kept fewer than MIN_KEPT examples; ``distill
eval --gate`` exits 1 when the student misses its quality bar, which fails the task, so the
``publish`` step only runs for a student that passed.

The commands are plain argv lists in COMMANDS (ScheduledPipelineTest checks every one of them
against the real ``distill`` command line and Spark job classes); the same chain runs from cron via
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
KAFKA = os.environ.get("DISTILL_KAFKA", "kafka:9092")
RUN = RUNS + "/{{ ds }}"
LABELS_TOPIC = "distill.batch-labels.{{ ds }}"
MIN_KEPT = 1000

COMMANDS = {
    "label": [
        "distill", "label",
        "--checkpoint", TEACHER,
        "--input", PROMPTS + "/{{ ds }}.jsonl",
        "--run-id", "{{ ds }}",
        "--bootstrap-servers", KAFKA,
        "--outputs-topic", LABELS_TOPIC,
        "--create-topic",
    ],
    "ingest": [
        "spark-submit", "--master", "yarn", "--deploy-mode", "cluster",
        "--class", "dev.distill.spark.jobs.IngestJob", SPARK_JAR,
        "--bootstrap-servers", KAFKA,
        "--topic", LABELS_TOPIC,
        "--output", RUN + "/teacher-outputs",
        "--quarantine", RUN + "/quarantine",
        "--checkpoint", RUN + "/ingest-checkpoint",
        "--trigger", "available-now",
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
ORDER = ["label", "ingest", "curate", "train", "eval"]


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
        tasks["label"] >> tasks["ingest"] >> tasks["curate"] >> curation_gate
        curation_gate >> tasks["train"] >> tasks["eval"] >> publish
    return dag


try:
    dag = build_dag()
except ImportError:  # no Airflow here: the module still parses, COMMANDS stay importable
    dag = None
