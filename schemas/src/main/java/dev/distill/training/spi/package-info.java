/**
 * The training SPI, not a data contract: what {@code spark-jobs}' barrier stage ({@code
 * BarrierTrainJob}, which may not see DJL) and the DJL trainer in {@code student-trainer} (which
 * may not see Spark) agree on: a {@link dev.distill.training.spi.WorkerTask} in, an {@link
 * dev.distill.training.spi.AllReduce} to call, a {@link dev.distill.training.spi.TrainSummary} out,
 * and the trainer found through {@link java.util.ServiceLoader}. It ships in the {@code schemas}
 * jar only because that is the one module both sides may depend on; its package says what it is
 * (issue 16, "Layout and docs" of issue 17).
 */
package dev.distill.training.spi;
