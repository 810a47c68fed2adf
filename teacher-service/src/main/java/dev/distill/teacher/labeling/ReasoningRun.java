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
    List<TeacherOutput> batch = new ArrayList<>();
    int done = 0;
    for (Question q : questions) {
      int[] promptTokens = sampler.promptTokens(q.text());
      TextPrompt prompt = new TextPrompt(q.promptId(), q.source(), promptTokens);
      LabeledSequence labels = labeler.label(List.of(promptTokens)).get(0);
      TeacherOutput r = records.toRecord(prompt, labels);
      List<Rationale> sampled = sampler.sample(q.text(), rng);
      r.setRationales(sampled);
      r.setGoldAnswer(q.goldAnswer());
      for (Rationale x : sampled) {
        rationales++;
        withAnswer += x.getAnswer() != null ? 1 : 0;
        matching += q.goldAnswer() != null && q.goldAnswer().equals(x.getAnswer()) ? 1 : 0;
      }
      batch.add(r);
      if (batch.size() == 64) {
        sink.write(batch);
        batch = new ArrayList<>();
      }
      progress.accept(++done);
    }
    if (!batch.isEmpty()) {
      sink.write(batch);
    }
    sink.commit();
    return new Summary(questions.size(), rationales, withAnswer, matching);
  }
}
