package dev.distill.teacher.labeling;

import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.Rationale;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.RationaleSampler;
import dev.distill.teacher.inference.SoftLabeler;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.LongConsumer;

/**
 * Reasoning prompts in, {@link TeacherOutput} records with n sampled rationales out: the prompt's
 * own tokens and soft labels, the gold answer when known, and the rationales (each with its soft
 * labels) for curation to vote on.
 */
public final class ReasoningRun {
  /** Questions handed to the sampler at once. */
  static final int CHUNK = 256;

  /** A question with an optional gold answer. */
  public record Question(String promptId, String source, String text, String goldAnswer) {}

  /** What a run produced. */
  public record Summary(long records, long rationales, long withAnswer, long matchingGold) {}

  private final RationaleSampler sampler;
  private final LabelingRun records;
  private final SoftLabeler labeler;

  public ReasoningRun(
      RationaleSampler sampler, SoftLabeler labeler, Provenance provenance, String runId) {
    this.sampler = sampler;
    this.records = new LabelingRun(labeler, provenance, runId);
    this.labeler = labeler;
  }

  /**
   * Samples rationales for every question and writes one record per question to {@code sink},
   * committing once at the end.
   */
  public Summary run(List<Question> questions, long seed, OutputSink sink, LongConsumer progress)
      throws IOException {
    Random rng = new Random(seed);
    long rationales = 0;
    long withAnswer = 0;
    long matching = 0;
    int done = 0;
    // Questions go to the sampler in chunks so equal-length prompts decode in one batch.
    for (int from = 0; from < questions.size(); from += CHUNK) {
      List<Question> chunk = questions.subList(from, Math.min(questions.size(), from + CHUNK));
      List<String> texts = new ArrayList<>(chunk.size());
      for (Question q : chunk) {
        texts.add(q.text());
      }
      List<List<Rationale>> sampled = sampler.sampleAll(texts, rng);
      List<TeacherOutput> batch = new ArrayList<>(chunk.size());
      for (int i = 0; i < chunk.size(); i++) {
        Question q = chunk.get(i);
        int[] promptTokens = sampler.promptTokens(q.text());
        LabeledSequence labels = labeler.label(List.of(promptTokens)).get(0);
        TeacherOutput r =
            records.toRecord(new TextPrompt(q.promptId(), q.source(), promptTokens), labels);
        r.setRationales(sampled.get(i));
        r.setGoldAnswer(q.goldAnswer());
        for (Rationale x : sampled.get(i)) {
          rationales++;
          withAnswer += x.getAnswer() != null ? 1 : 0;
          matching += q.goldAnswer() != null && q.goldAnswer().equals(x.getAnswer()) ? 1 : 0;
        }
        batch.add(r);
      }
      sink.write(batch);
      done += chunk.size();
      progress.accept(done);
    }
    sink.commit();
    return new Summary(questions.size(), rationales, withAnswer, matching);
  }
}
