package dev.distill.deploy.pipeline;

import java.util.LinkedHashMap;
import java.util.Map;

/** Ordered maps for report sections. */
final class Facts {
  private Facts() {}

  static Map<String, Object> ordered(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }
}
