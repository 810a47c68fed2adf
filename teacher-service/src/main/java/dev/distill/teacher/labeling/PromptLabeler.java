package dev.distill.teacher.labeling;

import dev.distill.schemas.avro.Prompt;
import dev.distill.schemas.avro.Rationale;
import dev.distill.schemas.avro.TeacherOutput;
import dev.distill.teacher.inference.LabeledSequence;
import dev.distill.teacher.inference.RationaleConfig;
import dev.distill.teacher.inference.Teacher;
import dev.distill.teacher.inference.TeacherException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Turns one {@link Prompt} into the {@link TeacherOutput} records of its soft labels, chunked so
 * that every record stays under the producer's size limit and every chunk fits the teacher's
 * context; or into a {@link Rejection} naming why it cannot be served.
 *
 * <h2>Chunks</h2>
 *
 * Tokens {@code t[0..L]} are cut at {@code 0 = s_0 < s_1 < ... < s_n = L} with {@code s_{i+1} - s_i
 * <= chunkPositions}. Chunk i holds tokens {@code t[s_i .. s_{i+1}]} (both ends) and the soft
 * labels of positions {@code s_i .. s_{i+1} - 1}, so consecutive chunks share one boundary token:
 * the convention spark-jobs' {@code ChunkReassembly} reassembles. All chunks share the record id
 * and carry {@code chunkIndex}/{@code chunkCount}. Each chunk is labelled in its own context window
 * (the teacher's context starts again at {@code s_i}); for an in-process GPT whose block size is
 * the chunk length this is what the teacher can see anyway.
 *
 * <h2>Rationales</h2>
 *
 * A prompt whose {@code numRationales} is n > 0 also gets n sampled chain-of-thought rationales
 * ({@link Teacher#sampleRationales}, configured per instance by a {@link RationaleConfig}), carried
 * by its first chunk; each rationale has its own soft labels over its whole sequence.
 */
public final class PromptLabeler {
  /** Why a prompt was not served; the DLQ's reason header. */
  public enum Reason {
    /**
     * Not a record: bad JSON, not an object, an unknown key, an Avro record that does not decode.
     */
    UNDECODABLE,
    /** A required field ({@code prompt_id}, {@code text}) is absent or null. */
    MISSING_FIELD,
    /** A field has the wrong type (e.g. {@code text} a number, {@code prompt_id} an object). */
    WRONG_TYPE,
    /** A {@code prompt_id} seen before in the run with different content (text, source, ...). */
    DUPLICATE_ID,
    /** The same prompt again (same id, same content): labelled once, the repeat recorded here. */
    REPEATED_PROMPT,
    BAD_UTF8,
    UNTOKENIZABLE,
    TOO_SHORT,
    OVER_LENGTH,
    TEACHER_FAILED,
    /** Rationales asked for, but this instance has none configured, or more than its maximum n. */
    RATIONALES_REFUSED
  }

  /** What {@link #prepare} makes of a prompt. */
  public sealed interface Outcome permits Prepared, Rejection {}

  /** A prompt that cannot be served, with the reason and a human-readable detail. */
  public record Rejection(Reason reason, String detail) implements Outcome {}

  /** A prompt cut into the token windows the teacher labels. */
  public record Prepared(Prompt prompt, int[] tokens, List<int[]> chunks) implements Outcome {
    public int tokenCount() {
      return tokens.length;
    }
  }

  private final Teacher teacher;
  private final int chunkPositions;
  private final int maxPromptTokens;
  private final RationaleConfig rationales;

  /**
   * @param chunkPositions most positions per record (capped by the teacher's context)
   * @param maxPromptTokens longer prompts are rejected as {@link Reason#OVER_LENGTH}
   */
  public PromptLabeler(Teacher teacher, int chunkPositions, int maxPromptTokens) {
    this(teacher, chunkPositions, maxPromptTokens, null);
  }

  /**
   * @param rationales how this instance samples rationales for prompts whose {@code numRationales}
   *     is positive (template, temperature, max tokens, answer pattern; its {@code samples} is the
   *     most a prompt may ask for); null: such prompts are refused
   */
  public PromptLabeler(
      Teacher teacher, int chunkPositions, int maxPromptTokens, RationaleConfig rationales) {
    if (rationales != null && !teacher.samplesRationales()) {
      throw new IllegalArgumentException(
          "teacher " + teacher.provenance().getTeacherId() + " does not sample rationales");
    }
    this.rationales = rationales;
    if (chunkPositions < 1 || maxPromptTokens < 2) {
      throw new IllegalArgumentException("chunkPositions >= 1 and maxPromptTokens >= 2 needed");
    }
    this.teacher = teacher;
    this.chunkPositions = Math.min(chunkPositions, teacher.maxSequenceTokens() - 1);
    this.maxPromptTokens = maxPromptTokens;
  }

  public int chunkPositions() {
    return chunkPositions;
  }

  /** Tokenizes and chunks, or says why the prompt cannot be served. */
  public Outcome prepare(Prompt prompt) {
    String text = prompt.getText().toString();
    // Avro decodes malformed UTF-8 to U+FFFD; a prompt carrying one was not valid text.
    if (text.indexOf('\uFFFD') >= 0) {
      return new Rejection(
          Reason.BAD_UTF8, "prompt " + prompt.getPromptId() + " is not valid UTF-8");
    }
    int[] tokens;
    try {
      tokens = teacher.encode(text);
    } catch (IllegalArgumentException e) {
      return new Rejection(
          Reason.UNTOKENIZABLE, "prompt " + prompt.getPromptId() + ": " + e.getMessage());
    }
    return prepareTokens(prompt, tokens);
  }

  /**
   * Chunks given token ids of a prompt (e.g. a prompt followed by the teacher's own completion:
   * {@link SequenceLevel}), or says why they cannot be served (too short, over the length limit,
   * rationales refused).
   */
  public Outcome prepareTokens(Prompt prompt, int[] tokens) {
    if (tokens.length < 2) {
      return new Rejection(
          Reason.TOO_SHORT,
          "prompt " + prompt.getPromptId() + " has " + tokens.length + " tokens; 2 needed");
    }
    if (tokens.length > maxPromptTokens) {
      return new Rejection(
          Reason.OVER_LENGTH,
          "prompt "
              + prompt.getPromptId()
              + " has "
              + tokens.length
              + " tokens, over the limit of "
              + maxPromptTokens);
    }
    Rejection refused = checkRationales(prompt);
    if (refused != null) {
      return refused;
    }
    List<int[]> chunks = new ArrayList<>();
    for (int s = 0; s < tokens.length - 1; s += chunkPositions) {
      int end = Math.min(tokens.length - 1, s + chunkPositions);
      chunks.add(Arrays.copyOfRange(tokens, s, end + 1));
    }
    return new Prepared(prompt, tokens, chunks);
  }

  private Rejection checkRationales(Prompt prompt) {
    int n = prompt.getNumRationales();
    if (n == 0) {
      return null;
    }
    String id = "prompt " + prompt.getPromptId();
    if (rationales == null) {
      return new Rejection(
          Reason.RATIONALES_REFUSED,
          id + " asks for " + n + " rationales; this instance samples none");
    }
    if (n < 0 || n > rationales.samples()) {
      return new Rejection(
          Reason.RATIONALES_REFUSED,
          id + " asks for " + n + " rationales; allowed: 1 to " + rationales.samples());
    }
    int[] templated;
    try {
      templated = teacher.encode(String.format(rationales.promptTemplate(), prompt.getText()));
    } catch (IllegalArgumentException e) {
      return new Rejection(
          Reason.UNTOKENIZABLE, id + " in the rationale template: " + e.getMessage());
    }
    // The rationale (prompt and completion) is labelled in one window: leave room for a token.
    if (templated.length + 1 > teacher.maxSequenceTokens() - 1) {
      return new Rejection(
          Reason.OVER_LENGTH,
          id
              + " has "
              + templated.length
              + " tokens in the rationale template, leaving no room to generate in a context of "
              + (teacher.maxSequenceTokens() - 1));
    }
    return null;
  }

  /** Labels prepared prompts together (one teacher call) and builds their records. */
  public List<List<TeacherOutput>> label(List<Prepared> prepared) throws TeacherException {
    List<int[]> all = new ArrayList<>();
    for (Prepared p : prepared) {
      all.addAll(p.chunks());
    }
    List<LabeledSequence> labelled = teacher.label(all);
    List<List<TeacherOutput>> out = new ArrayList<>(prepared.size());
    int at = 0;
    for (Prepared p : prepared) {
      out.add(records(p, labelled.subList(at, at + p.chunks().size())));
      at += p.chunks().size();
    }
    sampleRationales(prepared, out);
    return out;
  }

  /**
   * Samples the rationales prompts ask for, prompts asking for the same n in one teacher call, and
   * puts them on each prompt's first chunk. The generator is seeded from the prompts' ids, so a
   * batch redone after an aborted transaction samples the same rationales.
   */
  private void sampleRationales(List<Prepared> prepared, List<List<TeacherOutput>> out)
      throws TeacherException {
    Map<Integer, List<Integer>> byN = new TreeMap<>();
    for (int i = 0; i < prepared.size(); i++) {
      int n = prepared.get(i).prompt().getNumRationales();
      if (n > 0) {
        byN.computeIfAbsent(n, k -> new ArrayList<>()).add(i);
      }
    }
    for (Map.Entry<Integer, List<Integer>> group : byN.entrySet()) {
      List<String> texts = new ArrayList<>(group.getValue().size());
      long seed = group.getKey();
      for (int i : group.getValue()) {
        Prompt p = prepared.get(i).prompt();
        texts.add(p.getText().toString());
        seed = seed * 31 + (p.getRunId() + "/" + p.getPromptId()).hashCode();
      }
      List<List<Rationale>> sampled =
          teacher.sampleRationales(texts, rationales.withSamples(group.getKey()), new Random(seed));
      for (int j = 0; j < group.getValue().size(); j++) {
        out.get(group.getValue().get(j)).get(0).setRationales(sampled.get(j));
      }
    }
  }

  private List<TeacherOutput> records(Prepared p, List<LabeledSequence> chunks) {
    Prompt prompt = p.prompt();
    LabelingRun run = new LabelingRun(null, teacher.provenance(), prompt.getRunId().toString());
    TextPrompt whole =
        new TextPrompt(prompt.getPromptId().toString(), prompt.getSource().toString(), p.tokens());
    String recordId = run.recordId(whole);
    List<TeacherOutput> out = new ArrayList<>(chunks.size());
    for (int i = 0; i < chunks.size(); i++) {
      LabeledSequence c = chunks.get(i);
      TeacherOutput r =
          run.toRecord(new TextPrompt(whole.promptId(), whole.source(), c.tokens()), c);
      r.setRecordId(recordId);
      r.setChunkIndex(i);
      r.setChunkCount(chunks.size());
      r.setGoldAnswer(prompt.getGoldAnswer() == null ? null : prompt.getGoldAnswer().toString());
      out.add(r);
    }
    return out;
  }
}
