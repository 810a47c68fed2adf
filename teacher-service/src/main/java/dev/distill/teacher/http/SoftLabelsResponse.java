package dev.distill.teacher.http;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.schemas.avro.Provenance;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.teacher.inference.LabeledSequence;

/**
 * The answer of {@code POST /v1/soft-labels}.
 *
 * @param tokens the labelled ids
 * @param temperature the T of the probabilities
 * @param labels top-k per position at T; its k is the request's, and the probabilities of the
 *     teacher's top-k that the request did not ask for are in the tail: {@code tail'(p) = tail(p) +
 *     sum over j >= k of prob(p, j)}
 * @param stats the teacher's statistics of the whole sequence (over the teacher's own k)
 * @param provenance who labelled, as recorded with stored labels
 */
record SoftLabelsResponse(
    int[] tokens, float temperature, SoftLabels labels, Stats stats, Provenance provenance) {

  /** Mean entropy (nats), top-1 margin, top-k mass and label-outside-top-k rate. */
  record Stats(
      float meanEntropy, float meanTop1Margin, float meanTopkMass, float labelOutsideTopkRate) {}

  /** The teacher's labels of {@code seq} cut to the request's k. */
  static SoftLabelsResponse of(
      SoftLabelsRequest request, LabeledSequence seq, Provenance provenance) {
    int k = request.k();
    SoftLabels l = seq.labels();
    int positions = l.positions();
    int[] ids = new int[positions * k];
    float[] probs = new float[positions * k];
    float[] tail = new float[positions];
    for (int p = 0; p < positions; p++) {
      double dropped = 0;
      for (int j = 0; j < l.k(); j++) {
        if (j < k) {
          ids[p * k + j] = l.id(p, j);
          probs[p * k + j] = l.prob(p, j);
        } else {
          dropped += l.prob(p, j);
        }
      }
      tail[p] = (float) (l.tail(p) + dropped);
    }
    return new SoftLabelsResponse(
        request.tokens(),
        provenance.getTemperature(),
        new SoftLabels(positions, k, ids, probs, tail),
        new Stats(
            seq.meanEntropy(),
            seq.meanTop1Margin(),
            seq.meanTopkMass(),
            seq.labelOutsideTopkRate()),
        provenance);
  }

  /**
   * {@code tokens}, {@code positions}, {@code k}, {@code temperature}, {@code top_ids}, {@code
   * top_probs} (positions x k), {@code tail_mass}, {@code stats}, {@code provenance}.
   */
  JsonObject toJson() {
    JsonArray ids = new JsonArray();
    JsonArray probs = new JsonArray();
    JsonArray tail = new JsonArray();
    for (int p = 0; p < labels.positions(); p++) {
      JsonArray pi = new JsonArray();
      JsonArray pp = new JsonArray();
      for (int j = 0; j < labels.k(); j++) {
        pi.add(labels.id(p, j));
        pp.add(labels.prob(p, j));
      }
      ids.add(pi);
      probs.add(pp);
      tail.add(labels.tail(p));
    }
    JsonObject out = new JsonObject();
    JsonArray toks = new JsonArray();
    for (int id : tokens) {
      toks.add(id);
    }
    out.add("tokens", toks);
    out.addProperty("positions", labels.positions());
    out.addProperty("k", labels.k());
    out.addProperty("temperature", temperature);
    out.add("top_ids", ids);
    out.add("top_probs", probs);
    out.add("tail_mass", tail);
    JsonObject s = new JsonObject();
    s.addProperty("mean_entropy", stats.meanEntropy());
    s.addProperty("mean_top1_margin", stats.meanTop1Margin());
    s.addProperty("mean_topk_mass", stats.meanTopkMass());
    s.addProperty("label_outside_topk_rate", stats.labelOutsideTopkRate());
    out.add("stats", s);
    out.add("provenance", JsonParser.parseString(provenance.toString()));
    return out;
  }
}
