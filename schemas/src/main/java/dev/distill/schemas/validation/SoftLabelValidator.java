package dev.distill.schemas.validation;

import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.CodecException;
import dev.distill.schemas.codec.SampledSoftLabelCodec;
import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The record rules of the data contract. Each check returns the first violation it finds, so a
 * rejected record is counted once, under one named reason.
 */
public final class SoftLabelValidator {
  /** Slack on {@code sum(top-k) <= 1}: float32 softmax outputs sum to 1 within about 1e-6. */
  public static final double SUM_TOLERANCE = 1e-4;

  private SoftLabelValidator() {}

  /** Checks decoded soft labels against a vocabulary size. */
  public static Optional<Violation> validate(SoftLabels labels, int vocabSize) {
    int k = labels.k();
    if (k > vocabSize) {
      return Optional.of(new Violation(Reason.SHAPE_MISMATCH, "k=" + k + " > vocab " + vocabSize));
    }
    Set<Integer> seen = new HashSet<>();
    for (int pos = 0; pos < labels.positions(); pos++) {
      double sum = 0;
      seen.clear();
      for (int j = 0; j < k; j++) {
        int id = labels.id(pos, j);
        float p = labels.prob(pos, j);
        if (id < 0 || id >= vocabSize) {
          return violation(
              Reason.ID_OUT_OF_VOCAB, pos, "id " + id + " not in [0, " + vocabSize + ")");
        }
        if (!seen.add(id)) {
          return violation(Reason.DUPLICATE_ID, pos, "id " + id + " appears twice");
        }
        if (!Float.isFinite(p)) {
          return violation(Reason.NON_FINITE_PROBABILITY, pos, "probability " + p);
        }
        if (p < 0f || p > 1f) {
          return violation(Reason.PROBABILITY_OUT_OF_RANGE, pos, "probability " + p);
        }
        sum += p;
      }
      float tail = labels.tail(pos);
      if (!Float.isFinite(tail)) {
        return violation(Reason.NON_FINITE_PROBABILITY, pos, "tail mass " + tail);
      }
      if (tail < 0f || tail > 1f) {
        return violation(Reason.PROBABILITY_OUT_OF_RANGE, pos, "tail mass " + tail);
      }
      if (sum > 1.0 + SUM_TOLERANCE) {
        return violation(Reason.TOPK_SUM_ABOVE_ONE, pos, "top-k sum " + sum);
      }
    }
    return Optional.empty();
  }

  /**
   * Checks a whole teacher record: provenance, token ids, codec, shapes, then the soft labels. The
   * record's own provenance gives the vocabulary size and k. Both codecs are accepted: v1 {@link
   * SoftLabelCodec} (top-k + tail, k = {@code topK}) and v2 {@link SampledSoftLabelCodec} (sampled
   * counts, N = {@code topK} samples per position). Every violation's detail starts with the
   * record's id.
   */
  public static Optional<Violation> validate(TeacherOutput record) {
    return checkRecord(record)
        .map(v -> new Violation(v.reason(), "record " + record.getRecordId() + ": " + v.detail()));
  }

  private static Optional<Violation> checkRecord(TeacherOutput record) {
    Provenance prov = record.getProvenance();
    if (!(prov.getTemperature() > 0f) || !Float.isFinite(prov.getTemperature())) {
      return Optional.of(
          new Violation(Reason.NON_POSITIVE_TEMPERATURE, "temperature " + prov.getTemperature()));
    }
    String codec = String.valueOf(prov.getCodec());
    boolean topK =
        SoftLabelCodec.NAME.equals(codec) && prov.getCodecVersion() == SoftLabelCodec.VERSION;
    boolean sampled =
        SampledSoftLabelCodec.NAME.equals(codec)
            && prov.getCodecVersion() == SampledSoftLabelCodec.VERSION;
    if (!topK && !sampled) {
      return Optional.of(
          new Violation(
              Reason.UNKNOWN_CODEC,
              "codec "
                  + codec
                  + " v"
                  + prov.getCodecVersion()
                  + "; known: "
                  + SoftLabelCodec.NAME
                  + " v"
                  + SoftLabelCodec.VERSION
                  + ", "
                  + SampledSoftLabelCodec.NAME
                  + " v"
                  + SampledSoftLabelCodec.VERSION));
    }
    int vocab = prov.getVocabSize();
    List<Integer> tokens = record.getTokens();
    for (int i = 0; i < tokens.size(); i++) {
      int t = tokens.get(i);
      if (t < 0 || t >= vocab) {
        return Optional.of(
            new Violation(Reason.TOKEN_OUT_OF_VOCAB, "token " + i + ": id " + t + " not in vocab"));
      }
    }
    SoftLabels labels;
    int perPosition;
    try {
      byte[] bytes = new byte[record.getSoftLabels().remaining()];
      record.getSoftLabels().duplicate().get(bytes);
      if (sampled) {
        SampledSoftLabelCodec.Sampled s = SampledSoftLabelCodec.decode(bytes);
        perPosition = s.samples();
        labels = s.toSoftLabels();
      } else {
        labels = SoftLabelCodec.decode(bytes);
        perPosition = labels.k();
      }
    } catch (CodecException e) {
      return Optional.of(new Violation(Reason.UNDECODABLE_SOFT_LABELS, e.getMessage()));
    }
    if (labels.positions() != tokens.size() - 1) {
      return Optional.of(
          new Violation(
              Reason.SHAPE_MISMATCH,
              labels.positions() + " labelled positions for " + tokens.size() + " tokens"));
    }
    if (perPosition != prov.getTopK()) {
      return Optional.of(
          new Violation(
              Reason.SHAPE_MISMATCH,
              (sampled ? "N=" : "k=") + perPosition + " but provenance says " + prov.getTopK()));
    }
    if (record.getStats().getPositions() != labels.positions()) {
      return Optional.of(
          new Violation(
              Reason.SHAPE_MISMATCH,
              "stats.positions=" + record.getStats().getPositions() + " vs " + labels.positions()));
    }
    return validate(labels, vocab);
  }

  private static Optional<Violation> violation(Reason reason, int pos, String detail) {
    return Optional.of(new Violation(reason, "position " + pos + ": " + detail));
  }
}
