package dev.distill.deploy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cross-tokenizer distillation through {@code distill train} (issue 15, ask 4): top-k labels of a
 * char-level teacher (tiny random GPT, {@link CharTeacherRun}) curated by the real CurateJob, and a
 * student with a byte-level BPE tokenizer (the tiny Llama fixture, {@code --student hf:}). With
 * {@code train.loss=span}, {@code span-debiased} or {@code uld} it trains and its loss falls (and
 * with {@code span-path} a byte-level BPE student, the tiny GPT-2 fixture); with the default {@code
 * kd} it is refused, the message naming both tokenizers and the keys that allow it.
 */
class CrossTokenizerTrainIT {
  static final Path BPE_STUDENT = Path.of("../models/src/test/resources/hf/llama").toAbsolutePath();
  static final Path BYTE_LEVEL_STUDENT =
      Path.of("../models/src/test/resources/hf/gpt2").toAbsolutePath();

  @TempDir static Path tmp;
  static CharTeacherRun run;
  static Path curated;

  @BeforeAll
  static void labelAndCurate() throws Exception {
    run = CharTeacherRun.create(tmp, 60);
    Path labelled = run.label(tmp.resolve("teacher-outputs"), "--top-k", "4");
    curated = tmp.resolve("curated");
    CharTeacherRun.curate(labelled, curated);
  }

  static String[] train(String name, String... sets) {
    return train(BPE_STUDENT, name, sets);
  }

  static String[] train(Path student, String name, String... sets) {
    List<String> args =
        new ArrayList<>(
            Arrays.asList(SampledLabelsTrainIT.train(curated, run, tmp.resolve(name), sets)));
    args.addAll(List.of("--student", "hf:" + student));
    return args.toArray(String[]::new);
  }

  static void trainsAndItsLossFalls(String loss) throws Exception {
    trainsAndItsLossFalls(BPE_STUDENT, loss);
  }

  static void trainsAndItsLossFalls(Path student, String loss) throws Exception {
    assertThat(DistillCli.execute(train(student, loss, "train.loss=" + loss, "student.steps=40")))
        .isZero();
    List<Double> losses = CharTeacherRun.trainLosses(tmp.resolve(loss));
    System.out.println("[CrossTokenizerTrainIT] " + loss + " train losses " + losses);
    assertThat(losses).hasSizeGreaterThan(2);
    assertThat(losses.get(losses.size() - 1)).isLessThan(losses.get(0) - 0.1);
  }

  @Test
  void aBpeStudentLearnsFromCharTeacherLabelsWithSpanAlignedKd() throws Exception {
    trainsAndItsLossFalls("span");
  }

  @Test
  void aBpeStudentLearnsFromCharTeacherLabelsWithBoundaryCorrectedSpans() throws Exception {
    trainsAndItsLossFalls("span-debiased");
  }

  @Test
  void aByteLevelBpeStudentLearnsFromCharTeacherLabelsAlongTokenPaths() throws Exception {
    // span-path reads each token's own text, which the byte-level fixture spells exactly
    trainsAndItsLossFalls(BYTE_LEVEL_STUDENT, "span-path");
  }

  @Test
  void aBpeStudentLearnsFromCharTeacherLabelsWithUld() throws Exception {
    trainsAndItsLossFalls("uld");
  }

  @Test
  void withoutACrossTokenizerLossTheStudentIsRefusedNamingBothTokenizersAndTheKeys() {
    CharTeacherRun.Outcome refused = CharTeacherRun.execute(train("refused", "student.steps=2"));
    assertThat(refused.code()).isNotZero();
    assertThat(refused.stderr())
        .contains("char-")
        .contains("hf-660-")
        .contains("train.loss=uld")
        .contains("train.loss=span");
  }
}
