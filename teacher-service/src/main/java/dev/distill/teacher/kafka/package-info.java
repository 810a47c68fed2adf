/**
 * Kafka service mode: the exactly-once prompt-to-labels loop (transactions, read_committed, DLQ
 * with reasons), the Kafka output sink of batch runs, topic creation, and the child-JVM KRaft
 * broker that deploy's local pipeline and the broker-restart tests run.
 */
package dev.distill.teacher.kafka;
