/**
 * The teacher service entry point, {@link dev.distill.teacher.TeacherServiceMain}: {@code serve}
 * (Kafka service loop and HTTP API) and {@code batch} (JSONL or Parquet prompts to Parquet or Kafka
 * labels), with {@link dev.distill.teacher.ServeLifecycle} owning the serve threads and shutdown.
 */
package dev.distill.teacher;
