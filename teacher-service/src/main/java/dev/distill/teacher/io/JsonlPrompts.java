package dev.distill.teacher.io;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonPrimitive;
import com.google.gson.TypeAdapter;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import dev.distill.schemas.avro.Prompt;
import dev.distill.teacher.labeling.PromptLabeler.Reason;
import dev.distill.teacher.labeling.PromptLabeler.Rejection;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads prompts from JSON Lines: one object per line with {@code prompt_id} and {@code text}
 * (required strings), {@code source}, {@code gold_answer} (optional strings) and {@code
 * num_rationales} (optional integer >= 0; n sampled rationales, default the run's); null in an
 * optional field means absent; no other keys. One bad line never sinks the batch (issue 17): a line
 * that is not valid UTF-8 or strict JSON, has an unknown key ({@code UNDECODABLE}), lacks a
 * required field ({@code MISSING_FIELD}) or has a field of the wrong JSON type ({@code
 * WRONG_TYPE}), or reuses a seen {@code prompt_id} ({@code DUPLICATE_ID} / {@code REPEATED_PROMPT},
 * see {@link PromptIds}) becomes a {@link Rejection} naming the file and line, in our own words,
 * never a silent skip.
 */
public final class JsonlPrompts {
  private static final List<String> KEY_ORDER =
      List.of("prompt_id", "text", "source", "gold_answer", "num_rationales");
  private static final Set<String> KEYS = Set.copyOf(KEY_ORDER);
  private static final TypeAdapter<JsonElement> ELEMENT = new Gson().getAdapter(JsonElement.class);
  private static final Pattern COLUMN = Pattern.compile("column (\\d+)");

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
    PromptIds ids = new PromptIds();
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
        JsonObject o;
        try {
          o = parseObject(text);
        } catch (BadLine e) {
          rejected.add(new Rejected(where, new Rejection(e.reason, where + ": " + e.getMessage())));
          continue;
        }
        Prompt p;
        try {
          p =
              Prompt.newBuilder()
                  .setPromptId(required(o, "prompt_id"))
                  .setRunId(runId)
                  .setSource(optionalString(o, "source", defaultSource))
                  .setText(required(o, "text"))
                  .setGoldAnswer(optionalString(o, "gold_answer", null))
                  .setNumRationales(numRationales(o, defaultRationales))
                  .build();
        } catch (BadLine e) {
          // The id names the reject when it is readable; else the line does.
          rejected.add(
              new Rejected(
                  idOrWhere(o, where), new Rejection(e.reason, where + ": " + e.getMessage())));
          continue;
        }
        Rejection dup = ids.check(p, where);
        if (dup != null) {
          rejected.add(new Rejected(p.getPromptId().toString(), dup));
          continue;
        }
        prompts.add(p);
      }
    }
    return new Read(prompts, rejected);
  }

  /** A line that is not a prompt: the reason and our own sentence (never the parser's). */
  private static final class BadLine extends Exception {
    final Reason reason;

    BadLine(Reason reason, String message) {
      super(message, null, false, false);
      this.reason = reason;
    }
  }

  /** Strict JSON (no comments, single quotes or NaN), one object, nothing after it. */
  private static JsonObject parseObject(String text) throws BadLine {
    JsonElement e;
    try {
      JsonReader r = new JsonReader(new StringReader(text));
      r.setLenient(false);
      e = ELEMENT.read(r);
      if (r.peek() != JsonToken.END_DOCUMENT) {
        throw new BadLine(Reason.UNDECODABLE, "more than one JSON value on the line");
      }
    } catch (IOException | JsonParseException | IllegalStateException x) {
      throw new BadLine(Reason.UNDECODABLE, "not valid JSON" + column(x.getMessage()));
    }
    if (e == null || !e.isJsonObject()) {
      throw new BadLine(
          Reason.UNDECODABLE,
          "not a JSON object (a prompt is {\"prompt_id\": ..., \"text\": ...})");
    }
    JsonObject o = e.getAsJsonObject();
    for (String k : o.keySet()) {
      if (!KEYS.contains(k)) {
        throw new BadLine(
            Reason.UNDECODABLE,
            "unknown key " + k + " (known: " + String.join(", ", KEY_ORDER) + ")");
      }
    }
    return o;
  }

  /** " at column N" from the parser's message, which otherwise carries a troubleshooting URL. */
  private static String column(String parserMessage) {
    if (parserMessage == null) {
      return "";
    }
    Matcher m = COLUMN.matcher(parserMessage);
    return m.find() ? " (at column " + m.group(1) + ")" : "";
  }

  private static String typeOf(JsonElement e) {
    if (e.isJsonNull()) {
      return "null";
    }
    if (e.isJsonObject()) {
      return "an object";
    }
    if (e.isJsonArray()) {
      return "an array";
    }
    JsonPrimitive p = e.getAsJsonPrimitive();
    return p.isBoolean() ? "a boolean" : p.isNumber() ? "a number" : "a string";
  }

  private static boolean isString(JsonElement e) {
    return e.isJsonPrimitive() && e.getAsJsonPrimitive().isString();
  }

  private static String required(JsonObject o, String name) throws BadLine {
    JsonElement e = o.get(name);
    if (e == null || e.isJsonNull()) {
      throw new BadLine(
          Reason.MISSING_FIELD,
          name + " is " + (e == null ? "missing" : "null") + "; it is required");
    }
    if (!isString(e)) {
      throw new BadLine(Reason.WRONG_TYPE, name + " must be a string, got " + typeOf(e));
    }
    String v = e.getAsString();
    if (name.equals("prompt_id") && v.isBlank()) {
      throw new BadLine(Reason.MISSING_FIELD, "prompt_id is empty; it is required");
    }
    return v;
  }

  /** An optional string; absent or null means {@code dflt}. */
  private static String optionalString(JsonObject o, String name, String dflt) throws BadLine {
    JsonElement e = o.get(name);
    if (e == null || e.isJsonNull()) {
      return dflt;
    }
    if (!isString(e)) {
      throw new BadLine(Reason.WRONG_TYPE, name + " must be a string or null, got " + typeOf(e));
    }
    return e.getAsString();
  }

  private static int numRationales(JsonObject o, int dflt) throws BadLine {
    JsonElement e = o.get("num_rationales");
    if (e == null || e.isJsonNull()) {
      return dflt;
    }
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
      throw new BadLine(
          Reason.WRONG_TYPE, "num_rationales must be an integer >= 0, got " + typeOf(e));
    }
    double d = e.getAsDouble();
    if (d != Math.rint(d) || d < 0 || d > Integer.MAX_VALUE) {
      throw new BadLine(
          Reason.WRONG_TYPE, "num_rationales must be an integer >= 0, got " + e.getAsString());
    }
    return (int) d;
  }

  private static String idOrWhere(JsonObject o, String where) {
    JsonElement id = o.get("prompt_id");
    return id != null && isString(id) && !id.getAsString().isBlank() ? id.getAsString() : where;
  }
}
