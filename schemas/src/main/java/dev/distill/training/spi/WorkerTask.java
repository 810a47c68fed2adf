package dev.distill.training.spi;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/**
 * What one worker of a data-parallel job is asked to do.
 *
 * @param rank this worker, {@code 0 <= rank < worldSize}
 * @param worldSize number of workers
 * @param options the trainer's options (key = value, same on every worker)
 */
public record WorkerTask(int rank, int worldSize, Map<String, String> options)
    implements Serializable {
  public WorkerTask {
    if (worldSize < 1 || rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException("rank " + rank + " outside world of size " + worldSize);
    }
    options = new TreeMap<>(options);
  }

  public String option(String key) {
    String v = options.get(key);
    if (v == null) {
      throw new IllegalArgumentException("missing trainer option '" + key + "'");
    }
    return v;
  }
}
