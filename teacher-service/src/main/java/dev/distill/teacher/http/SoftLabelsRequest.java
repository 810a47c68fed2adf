package dev.distill.teacher.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.distill.schemas.avro.Provenance;
import dev.distill.teacher.inference.Teacher;

/**
 * A valid {@code POST /v1/soft-labels} request: the token ids to label and how many of the
 * teacher's top-k to return.
 *
 * @param tokens 2 to {@link Teacher#maxSequenceTokens()} ids in {@code [0, vocab)}
 * @param k in {@code [1, min(server maxK, teacher k)]}
 */
record SoftLabelsRequest(int[] tokens, int k) {

  /**
   * Validates {@code {"text": ...}} or {@code {"tokens": [...]}}, optional {@code "k"} and {@code
   * "temperature"} (which must be the teacher's own, as labels are made at one T). Each check fails
   * with a 400 naming the field.
   */
  static SoftLabelsRequest parse(JsonObject req, Teacher teacher, int maxK) throws ApiError {
    Provenance prov = teacher.provenance();
    int kMax = Math.min(maxK, prov.getTopK());
    int k = Generations.intField(req, "k", prov.getTopK());
    if (k < 1 || k > kMax) {
      throw new ApiError(400, "k must be in [1, " + kMax + "], got " + k);
    }
    JsonElement t = req.get("temperature");
    if (t != null && !t.isJsonNull() && t.getAsFloat() != prov.getTemperature()) {
      throw new ApiError(
          400, "this teacher labels at temperature " + prov.getTemperature() + " only");
    }
    int[] tokens = tokensOf(req, teacher);
    if (tokens.length < 2 || tokens.length > teacher.maxSequenceTokens()) {
      throw new ApiError(
          400,
          "sequence has "
              + tokens.length
              + " tokens; the teacher labels 2 to "
              + teacher.maxSequenceTokens());
    }
    return new SoftLabelsRequest(tokens, k);
  }

  private static int[] tokensOf(JsonObject req, Teacher teacher) throws ApiError {
    JsonElement text = req.get("text");
    JsonElement tokens = req.get("tokens");
    if ((text == null) == (tokens == null)) {
      throw new ApiError(400, "give exactly one of text and tokens");
    }
    if (text != null) {
      if (!text.isJsonPrimitive() || !text.getAsJsonPrimitive().isString()) {
        throw new ApiError(400, "text must be a string");
      }
      try {
        return teacher.encode(text.getAsString());
      } catch (IllegalArgumentException e) {
        throw new ApiError(400, e.getMessage());
      }
    }
    if (!tokens.isJsonArray()) {
      throw new ApiError(400, "tokens must be an array of integers");
    }
    JsonArray a = tokens.getAsJsonArray();
    int[] ids = new int[a.size()];
    int vocab = teacher.provenance().getVocabSize();
    for (int i = 0; i < ids.length; i++) {
      try {
        ids[i] = a.get(i).getAsInt();
      } catch (RuntimeException e) {
        throw new ApiError(400, "tokens[" + i + "] is not an integer");
      }
      if (ids[i] < 0 || ids[i] >= vocab) {
        throw new ApiError(400, "tokens[" + i + "] = " + ids[i] + " outside [0, " + vocab + ")");
      }
    }
    return ids;
  }
}
