/**
 * The Dataset transforms the jobs are made of, one concern each and free of I/O: decoding Kafka
 * records ({@link dev.distill.spark.transforms.KafkaRecordDecoding}), the raw layout ({@link
 * dev.distill.spark.transforms.RawColumns}), validation, provenance guard, chunk reassembly, exact
 * and near-duplicate removal, logit filters, split, decontamination, weights, relabelling,
 * multi-teacher fusion, rationale curation and student evaluation. Each is public only because the
 * jobs (another package) call it; a class's helpers stay package-private. Formulas and their
 * sources are in each class's Javadoc.
 */
package dev.distill.spark.transforms;
