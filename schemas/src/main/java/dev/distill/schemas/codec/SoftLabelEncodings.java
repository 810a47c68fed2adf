package dev.distill.schemas.codec;

/**
 * Either soft-label codec by its version byte: v1 {@link SoftLabelCodec} (top-k + tail) and v2
 * {@link SampledSoftLabelCodec} (sampled counts). Sampled labels are carried as {@link SoftLabels}
 * with {@link SoftLabels#sampled()} true and {@code k = N} (padded at probability 0), so a v2
 * encoding decodes and encodes back to the same bytes.
 */
public final class SoftLabelEncodings {
  private SoftLabelEncodings() {}

  /**
   * Decodes v1 or v2 bytes.
   *
   * @throws CodecException naming what is wrong with the bytes
   */
  public static SoftLabels decode(byte[] bytes) {
    if (SampledSoftLabelCodec.versionOf(bytes) == SampledSoftLabelCodec.VERSION) {
      SampledSoftLabelCodec.Sampled s = SampledSoftLabelCodec.decode(bytes);
      return s.toSoftLabels(s.samples());
    }
    return SoftLabelCodec.decode(bytes);
  }

  /** Sampled labels (k = N) as v2 counts, top-k labels as v1. */
  public static byte[] encode(SoftLabels labels) {
    return labels.sampled()
        ? SampledSoftLabelCodec.encode(SampledSoftLabelCodec.fromSoftLabels(labels, labels.k()))
        : SoftLabelCodec.encode(labels);
  }
}
