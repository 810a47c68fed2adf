package dev.distill.teacher.io;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.distill.schemas.avro.Prompt;
import dev.distill.teacher.labeling.PromptLabeler.Reason;
import dev.distill.teacher.labeling.PromptLabeler.Rejection;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Reads prompts from JSON Lines: one object per line with {@code prompt_id} and {@code text}
 * (required), {@code source}, {@code gold_answer} and {@code num_rationales} (optional; n sampled
 * rationales, default the run's); no other keys. A line that is not valid UTF-8, not JSON, or has
 * missing/unknown keys becomes a {@link Rejection} naming the file and line, never a silent skip.
 */
public final class JsonlPrompts {
  private static final Set<String> KEYS =
      Set.of("prompt_id", "text", "source", "gold_answer", "num_rationales");

  /** Accepted prompts and rejected lines. */
  public record Read(List<Prompt> prompts, List<Rejected> rejected) {}

  /** A line that was not accepted. */
  public record Rejected(String promptId, Rejection why) {}

  private JsonlPrompts() {}

  public static Read read(Path file, String runId, String defaultSource) throws IOException {
    return read(file, runId, defaultSource, 0);
  }

  /**
   * @param defaultRationales rationales asked for by lines without {@code num_rationales}
   */
  public static Read read(Path file, String runId, String defaultSource, int defaultRationales)
      throws IOException {
    List<Prompt> prompts = new ArrayList<>();
    List<Rejected> rejected = new ArrayList<>();
    try (InputStream in = Files.newInputStream(file)) {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      int lineNo = 0;
      int b;
      boolean more = true;
      while (more) {
        b = in.read();
        if (b != '\n' && b != -1) {
          line.write(b);
          continue;
        }
        more = b != -1;
        lineNo++;
        byte[] bytes = line.toByteArray();
        line.reset();
        if (bytes.length == 0 || (bytes.length == 1 && bytes[0] == '\r')) {
          continue;
        }
        String where = file.getFileName() + ":" + lineNo;
        String text;
        try {
          text =
              StandardCharsets.UTF_8
                  .newDecoder()
                  .onMalformedInput(CodingErrorAction.REPORT)
                  .onUnmappableCharacter(CodingErrorAction.REPORT)
                  .decode(ByteBuffer.wrap(bytes))
                  .toString();
        } catch (CharacterCodingException e) {
          rejected.add(new Rejected(where, new Rejection(Reason.BAD_UTF8, where + ": not UTF-8")));
          continue;
        }
        try {
          JsonElement e = JsonParser.parseString(text);
          if (!e.isJsonObject()) {
            throw new IllegalArgumentException("not a JSON object");
          }
          JsonObject o = e.getAsJsonObject();
          for (String k : o.keySet()) {
            if (!KEYS.contains(k)) {
              throw new IllegalArgumentException("unknown key " + k);
            }
          }
          if (!o.has("prompt_id") || !o.has("text")) {
            throw new IllegalArgumentException("prompt_id and text are required");
          }
          prompts.add(
              Prompt.newBuilder()
                  .setPromptId(o.get("prompt_id").getAsString())
                  .setRunId(runId)
                  .setSource(o.has("source") ? o.get("source").getAsString() : defaultSource)
                  .setText(o.get("text").getAsString())
                  .setGoldAnswer(
                      o.has("gold_answer") && !o.get("gold_answer").isJsonNull()
                          ? o.get("gold_answer").getAsString()
                          : null)
                  .setNumRationales(numRationales(o, defaultRationales))
                  .build());
        } catch (JsonParseException | IllegalArgumentException | IllegalStateException e) {
          rejected.add(
              new Rejected(
                  where, new Rejection(Reason.UNDECODABLE, where + ": " + e.getMessage())));
        }
      }
    }
    return new Read(prompts, rejected);
  }

  private static int numRationales(JsonObject o, int dflt) {
    JsonElement e = o.get("num_rationales");
    if (e == null || e.isJsonNull()) {
      return dflt;
    }
    double d = e.getAsDouble();
    if (d != Math.rint(d) || d < 0 || d > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("num_rationales must be an integer >= 0");
    }
    return (int) d;
  }
}
