package dev.distill.deploy.training;

import dev.distill.models.tokenizer.Tokenizer;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.TeacherException;
import dev.distill.teacher.remote.RemoteTeacher;
import dev.distill.teacher.remote.RemoteTeacherConfig;
import dev.distill.trainer.training.OnPolicyTeacher;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * The on-policy teacher over HTTP: a distill teacher service ({@code distill serve}) scores the
 * student's samples through {@code POST /v1/soft-labels} with the student's token ids ({@link
 * RemoteTeacher#softLabelsApi}: its concurrency, connect and request timeouts, and retries with
 * backoff on timeouts, connection errors, 429 and 5xx). The service must label at the run's T with
 * at least the run's k, and its tokenizer must be the student's (sha256, checked on every answer).
 */
public final class HttpOnPolicyTeacher implements OnPolicyTeacher {
  /** Requests in flight at once (one per sequence of a batch; the service batches them). */
  public static final int CONCURRENCY = 8;

  private final RemoteTeacher remote;
  private final int k;
  private final float temperature;

  /**
   * @param url the service's base URL, e.g. {@code http://127.0.0.1:8080}
   * @param apiToken its bearer token ({@code teacher.api-token}); null or empty for none
   * @param student the student's tokenizer: the ids sent
   * @param maxSequenceTokens the longest sequence sent (the student's context + 1)
   */
  public HttpOnPolicyTeacher(
      URI url,
      String apiToken,
      Tokenizer student,
      float temperature,
      int k,
      int maxSequenceTokens) {
    this.k = k;
    this.temperature = temperature;
    this.remote =
        RemoteTeacher.softLabelsApi(
            new RemoteTeacherConfig(
                url,
                "distill-teacher",
                apiToken == null || apiToken.isEmpty() ? null : apiToken,
                k,
                temperature,
                temperature,
                maxSequenceTokens,
                CONCURRENCY,
                Duration.ofSeconds(10),
                Duration.ofSeconds(120),
                3,
                Duration.ofMillis(200)),
            student);
  }

  @Override
  public List<SoftLabels> score(List<int[]> sequences) throws IOException {
    try {
      return remote.label(sequences).stream().map(LabeledSequence::labels).toList();
    } catch (TeacherException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  @Override
  public int k() {
    return k;
  }

  @Override
  public float temperature() {
    return temperature;
  }

  @Override
  public void close() {
    remote.close();
  }
}
