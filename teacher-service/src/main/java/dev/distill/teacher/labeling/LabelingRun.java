package dev.distill.teacher.labeling;

import dev.distill.schemas.avro.LabelStats;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.schemas.codec.SoftLabelEncodings;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.SoftLabeler;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.LongConsumer;
import org.apache.commons.codec.digest.DigestUtils;

/**
 * Batch labelling: prompts in, {@link TeacherOutput} records out to one or more sinks, with the
 * counts that the run reports.
 */
public final class LabelingRun {
  /** What a run produced. */
  public record Summary(long records, long tokens, long softLabelBytes) {
    public double bytesPerToken() {
      return tokens == 0 ? 0 : (double) softLabelBytes / tokens;
    }
  }

  private final SoftLabeler labeler;
  private final Provenance provenance;
  private final String runId;

  public LabelingRun(SoftLabeler labeler, Provenance provenance, String runId) {
    this.labeler = labeler;
    this.provenance = provenance;
    this.runId = runId;
  }

  /**
   * Labels every prompt and writes the records to {@code sink} batch by batch, then commits.
   *
   * @param progress called with the number of prompts done so far
   */
  public Summary run(List<TextPrompt> prompts, OutputSink sink, LongConsumer progress)
      throws IOException {
    long records = 0;
    long tokens = 0;
    long bytes = 0;
    int batch = labeler.config().batchSize();
    for (int from = 0; from < prompts.size(); from += batch) {
      List<TextPrompt> slice = prompts.subList(from, Math.min(prompts.size(), from + batch));
      List<int[]> seqs = new ArrayList<>(slice.size());
      for (TextPrompt p : slice) {
        seqs.add(p.tokens());
      }
      List<LabeledSequence> labeled = labeler.label(seqs);
      List<TeacherOutput> out = new ArrayList<>(slice.size());
      for (int i = 0; i < slice.size(); i++) {
        TeacherOutput r = toRecord(slice.get(i), labeled.get(i));
        out.add(r);
        tokens += labeled.get(i).labels().positions();
        bytes += r.getSoftLabels().remaining();
      }
      sink.write(out);
      records += out.size();
      progress.accept(from + slice.size());
    }
    sink.commit();
    return new Summary(records, tokens, bytes);
  }

  TeacherOutput toRecord(TextPrompt prompt, LabeledSequence seq) {
    // Sampled labels (k = N, probabilities c / N) go out as codec v2 counts; top-k as v1.
    byte[] encoded = SoftLabelEncodings.encode(seq.labels());
    List<Integer> tokens = new ArrayList<>(seq.tokens().length);
    for (int t : seq.tokens()) {
      tokens.add(t);
    }
    return TeacherOutput.newBuilder()
        .setRecordId(recordId(prompt))
        .setPromptId(prompt.promptId())
        .setRunId(runId)
        .setSource(prompt.source())
        .setChunkIndex(0)
        .setChunkCount(1)
        .setTokens(tokens)
        .setSoftLabels(ByteBuffer.wrap(encoded))
        .setStats(
            LabelStats.newBuilder()
                .setPositions(seq.labels().positions())
                .setMeanEntropy(seq.meanEntropy())
                .setMeanTop1Margin(seq.meanTop1Margin())
                .setMeanTopkMass(seq.meanTopkMass())
                .setLabelOutsideTopkRate(seq.labelOutsideTopkRate())
                .build())
        .setProvenance(Provenance.newBuilder(provenance).build())
        .setCreatedAtMs(System.currentTimeMillis())
        .build();
  }

  /**
   * Same tokens, same teacher, same T and k give the same id, so a re-run or a retried send is
   * recognised downstream as the same record (Kafka 3.9 exactly-once still needs dedupe by id).
   */
  String recordId(TextPrompt prompt) {
    MessageDigest md = DigestUtils.getSha256Digest();
    md.update(provenance.getTeacherSha256().getBytes(StandardCharsets.UTF_8));
    md.update(
        (provenance.getTemperature() + "/" + provenance.getTopK() + "/")
            .getBytes(StandardCharsets.UTF_8));
    for (int t : prompt.tokens()) {
      md.update((byte) (t >>> 24));
      md.update((byte) (t >>> 16));
      md.update((byte) (t >>> 8));
      md.update((byte) t);
    }
    return HexFormat.of().formatHex(md.digest(), 0, 16);
  }
}
