/**
 * Prompt inputs (JSONL and Parquet, each bad line a named reject) and the Parquet output sink of
 * batch labelling.
 */
package dev.distill.teacher.io;
