/**
 * The trainer's files: curated Parquet datasets (read whole or streamed, checked against the data
 * contract), training checkpoints, and the metrics log.
 */
package dev.distill.trainer.io;
