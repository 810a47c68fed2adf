/**
 * Labelling runs independent of transport: prompts to chunked {@link
 * dev.distill.schemas.avro.TeacherOutput} records with rejects and counts, sequence-level and
 * rationale modes, and the sinks they write to.
 */
package dev.distill.teacher.labeling;
