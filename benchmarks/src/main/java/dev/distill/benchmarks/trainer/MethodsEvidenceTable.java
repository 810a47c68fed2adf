package dev.distill.benchmarks.trainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tables of {@link MethodsEvidence}'s arithmetic part from the {@code RESULT} lines of several
 * logs (one process per seed, as {@code methods_evidence.sh} runs them): mean +- sd over seeds of
 * exact match and gold-solution loss per slice, per method. Args: log files.
 */
public final class MethodsEvidenceTable {
  private MethodsEvidenceTable() {}

  public static void main(String[] args) throws IOException {
    Map<String, Map<String, List<Double>>> em = new LinkedHashMap<>();
    Map<String, Map<String, List<Double>>> loss = new LinkedHashMap<>();
    Map<String, List<String>> seen = new LinkedHashMap<>();
    for (String file : args) {
      for (String line : Files.readAllLines(Path.of(file))) {
        if (!line.startsWith("RESULT arithmetic ")) {
          continue;
        }
        Map<String, String> kv = new LinkedHashMap<>();
        for (String field : line.substring("RESULT arithmetic ".length()).split(" ")) {
          int eq = field.lastIndexOf('=');
          kv.put(field.substring(0, eq), field.substring(eq + 1));
        }
        String method = kv.get("method");
        // the teacher's row is the same in every log: count it once
        if (seen.computeIfAbsent(method, x -> new ArrayList<>()).contains(kv.get("seed"))) {
          continue;
        }
        seen.get(method).add(kv.get("seed"));
        kv.forEach(
            (k, v) -> {
              Map<String, Map<String, List<Double>>> into =
                  k.equals("em") || k.startsWith("em:") ? em : k.startsWith("loss:") ? loss : null;
              if (into != null) {
                String slice = k.equals("em") ? "all" : k.substring(k.indexOf(':') + 1);
                into.computeIfAbsent(method, x -> new LinkedHashMap<>())
                    .computeIfAbsent(slice, x -> new ArrayList<>())
                    .add(Double.parseDouble(v));
              }
            });
      }
    }
    System.out.println("seeds per method: " + seen);
    MethodsEvidence.table("arithmetic: held-out exact match (greedy, with rationale)", em, "%.3f");
    MethodsEvidence.table(
        "arithmetic: held-out loss of the gold solution given the prompt, nats per char",
        loss,
        "%.4f");
  }
}
