package dev.distill.trainer.training;

import dev.distill.schemas.codec.SoftLabels;
import java.io.IOException;
import java.util.List;

/**
 * The teacher of on-policy distillation: token ids in, the teacher's top-k + tail soft labels out,
 * at the temperature and k of the offline labels (computed as offline labels are: {@code models}'
 * {@code TopKTail}). Implementations: {@link LocalOnPolicyTeacher} (a model in this process) and,
 * in {@code deploy}, the teacher service over HTTP ({@code POST /v1/soft-labels}).
 */
public interface OnPolicyTeacher extends AutoCloseable {
  /**
   * Labels of each sequence: {@code positions = sequence.length - 1}, position {@code p} being the
   * teacher's distribution of the token after {@code sequence[0..p]}. Sequences may differ in
   * length.
   *
   * @throws IOException when the teacher cannot answer (after its own retries)
   */
  List<SoftLabels> score(List<int[]> sequences) throws IOException;

  /** Ids per position of the labels. */
  int k();

  /** Temperature T of the labels. */
  float temperature();

  @Override
  default void close() {}
}
