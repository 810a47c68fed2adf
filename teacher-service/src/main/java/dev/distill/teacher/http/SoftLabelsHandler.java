package dev.distill.teacher.http;

import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import dev.distill.teacher.inference.DynamicBatcher;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.inference.TeacherException;
import dev.distill.teacher.service.TeacherMetrics;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /v1/soft-labels}: a {@link SoftLabelsRequest} in, its sequence labelled through the
 * {@link DynamicBatcher} (concurrent requests share teacher batches), a {@link SoftLabelsResponse}
 * out. A full batcher queue, a timeout or a retryable teacher failure is 503; a teacher refusal of
 * the input ({@link TeacherException} not retryable) is 400.
 */
final class SoftLabelsHandler implements JsonEndpoint {
  private static final Logger LOG = LoggerFactory.getLogger(SoftLabelsHandler.class);

  private final Teacher teacher;
  private final DynamicBatcher batcher;
  private final int maxK;
  private final Duration timeout;
  private final TeacherMetrics metrics;

  SoftLabelsHandler(
      Teacher teacher, DynamicBatcher batcher, int maxK, Duration timeout, TeacherMetrics metrics) {
    this.teacher = teacher;
    this.batcher = batcher;
    this.maxK = maxK;
    this.timeout = timeout;
    this.metrics = metrics;
  }

  @Override
  public int handle(HttpExchange ex, JsonObject request) throws IOException, ApiError {
    SoftLabelsResponse out = label(SoftLabelsRequest.parse(request, teacher, maxK));
    return Responses.json(ex, 200, out.toJson());
  }

  /** Labels one validated request; waits at most the handler's timeout for its batch. */
  SoftLabelsResponse label(SoftLabelsRequest request) throws ApiError {
    LabeledSequence seq;
    try {
      seq = batcher.submit(request.tokens()).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      metrics.rejected("queue_full");
      throw new ApiError(503, "the teacher queue is full; retry later");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ApiError(503, "interrupted");
    } catch (TimeoutException e) {
      throw new ApiError(503, "the teacher did not answer in time");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof TeacherException te && !te.retryable()) {
        throw new ApiError(400, te.getMessage());
      }
      LOG.warn("teacher failed", e.getCause());
      throw new ApiError(503, "the teacher failed; retry later");
    }
    return SoftLabelsResponse.of(request, seq, teacher.provenance());
  }
}
