package dev.distill.teacher.inference;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Runs an operation that takes sequences of one length (one forward pass of a batch) over sequences
 * of mixed lengths: one call per length, the results back in input order.
 */
final class LengthGroups {
  private LengthGroups() {}

  static <R> List<R> map(List<int[]> sequences, Function<List<int[]>, List<R>> equalLength) {
    Map<Integer, List<Integer>> byLength = new LinkedHashMap<>();
    for (int i = 0; i < sequences.size(); i++) {
      byLength.computeIfAbsent(sequences.get(i).length, k -> new ArrayList<>()).add(i);
    }
    Object[] out = new Object[sequences.size()];
    for (List<Integer> idx : byLength.values()) {
      List<int[]> group = new ArrayList<>(idx.size());
      for (int i : idx) {
        group.add(sequences.get(i));
      }
      List<R> done = equalLength.apply(group);
      for (int j = 0; j < idx.size(); j++) {
        out[idx.get(j)] = done.get(j);
      }
    }
    @SuppressWarnings("unchecked")
    List<R> results = (List<R>) Arrays.asList(out);
    return results;
  }
}
