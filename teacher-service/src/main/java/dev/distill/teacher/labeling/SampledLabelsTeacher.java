package dev.distill.teacher.labeling;

import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.codec.SampledSoftLabelCodec;
import dev.distill.teacher.inference.InProcessModel;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.LocalTeacher;
import dev.distill.teacher.inference.SoftLabeler;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.inference.TeacherException;
import dev.distill.teacher.inference.TextGeneration;
import java.util.List;
import java.util.Optional;

/**
 * An in-process teacher that labels with sampled soft labels (codec v2 {@value
 * SampledSoftLabelCodec#NAME}; Random-Sampling KD, Anshumann et al., ACL 2025, "Sparse Logit
 * Sampling"): {@code N} ids per position drawn with replacement from the teacher's full
 * distribution at T, stored with their counts ({@link SoftLabeler#labelSampled}). Its provenance
 * says codec v2 and {@code topK = N}. Sampling needs the whole distribution, so only an in-process
 * teacher of ours ({@link LocalTeacher}: a checkpoint or a Hugging Face folder) can do it; a remote
 * teacher returns only its top-k. Rationales are not offered in this mode (their labels would be
 * top-k in a record that says sampled).
 */
public final class SampledLabelsTeacher implements Teacher {
  private final LocalTeacher teacher;
  private final SoftLabeler labeler;
  private final int samples;

  /**
   * @throws IllegalArgumentException when {@code teacher} is not an in-process teacher of ours, or
   *     {@code samples} is not in [1, vocabulary size]
   */
  public SampledLabelsTeacher(Teacher teacher, int samples) {
    if (!(teacher instanceof LocalTeacher local)) {
      throw new IllegalArgumentException(
          "sampled labels need the teacher's whole distribution: give an in-process teacher"
              + " (--checkpoint or --teacher); "
              + teacher.provenance().getTeacherId()
              + " is "
              + teacher.getClass().getSimpleName()
              + ", which gives only its top-k");
    }
    int vocab = local.model().tokenizer().vocabSize();
    if (samples < 1 || samples > vocab) {
      throw new IllegalArgumentException(
          "samples per position must be in [1, " + vocab + "] (the vocabulary), got " + samples);
    }
    this.teacher = local;
    this.labeler = new SoftLabeler(InProcessModel.of(local.model()), local.config());
    this.samples = samples;
  }

  public int samples() {
    return samples;
  }

  @Override
  public List<LabeledSequence> label(List<int[]> sequences) throws TeacherException {
    try {
      return labeler.labelSampled(sequences, samples);
    } catch (IllegalArgumentException e) {
      // a sequence outside [2, maxSequenceTokens]: trying again cannot help
      throw new TeacherException(e.getMessage(), false, e);
    } catch (RuntimeException e) {
      throw new TeacherException("sampled labelling failed: " + e.getMessage(), true, e);
    }
  }

  @Override
  public int maxSequenceTokens() {
    return teacher.maxSequenceTokens();
  }

  @Override
  public int[] encode(String text) {
    return teacher.encode(text);
  }

  @Override
  public String decode(int[] ids) {
    return teacher.decode(ids);
  }

  @Override
  public Optional<TextGeneration> textGeneration() {
    return teacher.textGeneration();
  }

  /** The teacher's provenance with codec v2 and {@code topK = N}. */
  @Override
  public Provenance provenance() {
    return Provenance.newBuilder(teacher.provenance())
        .setCodec(SampledSoftLabelCodec.NAME)
        .setCodecVersion(SampledSoftLabelCodec.VERSION)
        .setTopK(samples)
        .build();
  }

  @Override
  public void close() {
    teacher.close();
  }
}
