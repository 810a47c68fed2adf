/**
 * Not a data contract: the training SPI between {@code spark-jobs}' barrier stage ({@code
 * BarrierTrainJob}, which may not see DJL) and the DJL trainer in {@code student-trainer} (which
 * may not see Spark). It lives in {@code schemas} because that is the one module both may depend
 * on. Issue 16 asks to move it to a package that says so ({@code
 * dev.distill.schemas.spi.training}); the move waits for the benchmarks that import it to leave
 * {@code deploy}.
 */
package dev.distill.schemas.distributed;
