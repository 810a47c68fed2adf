package dev.distill.teacher.labeling;

import dev.distill.schemas.avro.Prompt;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.inference.TeacherException;
import dev.distill.teacher.labeling.PromptLabeler.Outcome;
import dev.distill.teacher.labeling.PromptLabeler.Prepared;
import dev.distill.teacher.labeling.PromptLabeler.Reason;
import dev.distill.teacher.labeling.PromptLabeler.Rejection;
import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Batch mode without Kafka: prompts in, chunked {@link TeacherOutput} records out to a sink (e.g.
 * {@code io.ParquetOutputSink}: rolling files committed atomically with {@code _SUCCESS}), prompts
 * grouped up to a token budget per teacher call. Prompts that cannot be served are returned with
 * their reasons and counted. The caller commits the sink (after adding its side files).
 */
public final class BatchRun {
  /** A prompt that was not labelled. */
  public record Rejected(String promptId, Rejection why) {}

  /** What a run produced. */
  public record Summary(
      long prompts,
      long records,
      long positions,
      long softLabelBytes,
      Map<Reason, Integer> rejectedByReason,
      List<Rejected> rejected) {}

  private final PromptLabeler labeler;
  private final int tokenBudget;
  private final SequenceLevel generation;
  private final Teacher teacher;

  public BatchRun(PromptLabeler labeler, int tokenBudget) {
    this(labeler, tokenBudget, null, null);
  }

  /**
   * A run that labels the teacher's own completions of each prompt instead of the prompt ({@link
   * SequenceLevel}); {@code generation} null: the prompts themselves.
   */
  BatchRun(PromptLabeler labeler, int tokenBudget, SequenceLevel generation, Teacher teacher) {
    if (tokenBudget < 1) {
      throw new IllegalArgumentException("tokenBudget must be >= 1");
    }
    if (generation != null && teacher == null) {
      throw new IllegalArgumentException("sequence-level KD needs the teacher that generates");
    }
    this.labeler = labeler;
    this.tokenBudget = tokenBudget;
    this.generation = generation;
    this.teacher = teacher;
  }

  public Summary run(List<Prompt> prompts, OutputSink sink) throws IOException {
    List<Rejected> rejected = new ArrayList<>();
    List<Prepared> batch = new ArrayList<>();
    long[] counts = new long[3];
    int tokens = 0;
    for (Prompt p : prompts) {
      Outcome o = labeler.prepare(p);
      if (o instanceof Rejection r) {
        rejected.add(new Rejected(p.getPromptId().toString(), r));
        continue;
      }
      List<Outcome> ready =
          generation == null ? List.of(o) : generation.complete((Prepared) o, teacher, labeler);
      for (Outcome r : ready) {
        if (r instanceof Rejection why) {
          rejected.add(new Rejected(p.getPromptId().toString(), why));
          continue;
        }
        Prepared prep = (Prepared) r;
        batch.add(prep);
        tokens += prep.tokenCount();
        if (tokens >= tokenBudget) {
          flush(batch, sink, rejected, counts);
          tokens = 0;
        }
      }
    }
    flush(batch, sink, rejected, counts);
    Map<Reason, Integer> byReason = new EnumMap<>(Reason.class);
    for (Rejected r : rejected) {
      byReason.merge(r.why().reason(), 1, Integer::sum);
    }
    return new Summary(
        prompts.size() - rejected.stream().map(Rejected::promptId).distinct().count(),
        counts[0],
        counts[1],
        counts[2],
        byReason,
        rejected);
  }

  private void flush(List<Prepared> batch, OutputSink sink, List<Rejected> rejected, long[] counts)
      throws IOException {
    if (batch.isEmpty()) {
      return;
    }
    List<List<TeacherOutput>> out;
    try {
      out = labeler.label(batch);
    } catch (TeacherException e) {
      // Find the prompts that fail on their own; the others are kept.
      out = new ArrayList<>();
      for (Prepared p : batch) {
        try {
          out.add(labeler.label(List.of(p)).get(0));
        } catch (TeacherException one) {
          rejected.add(
              new Rejected(
                  p.prompt().getPromptId().toString(),
                  new Rejection(Reason.TEACHER_FAILED, one.getMessage())));
        }
      }
    }
    List<TeacherOutput> records = new ArrayList<>();
    for (List<TeacherOutput> chunks : out) {
      for (TeacherOutput r : chunks) {
        records.add(r);
        counts[0]++;
        counts[1] += r.getStats().getPositions();
        counts[2] += r.getSoftLabels().remaining();
      }
    }
    sink.write(records);
    batch.clear();
  }
}
