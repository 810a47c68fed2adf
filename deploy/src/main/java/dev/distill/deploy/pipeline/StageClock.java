package dev.distill.deploy.pipeline;

import com.google.gson.annotations.SerializedName;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Times the pipeline's stages one after the other: wall seconds and peak RSS of each (issue 13, ask
 * 5), a console line per stage, and {@code report.json}'s {@code stages} list. Stages never nest:
 * each resets the process's high-water mark when it starts.
 */
final class StageClock {
  /**
   * One finished stage.
   *
   * @param peakRssSource {@code VmHWM} (the kernel's mark, whole process) or {@code jvm-heap-peak}
   *     (Java heap only; see {@link PeakRss})
   */
  record StageTime(
      String name,
      double seconds,
      @SerializedName("peak_rss_mb") double peakRssMb,
      @SerializedName("peak_rss_source") String peakRssSource) {}

  /** A stage's work. */
  interface Body<T> {
    T run() throws IOException;
  }

  private final PrintStream out;
  private final List<StageTime> times = new ArrayList<>();

  StageClock(PrintStream out) {
    this.out = out;
  }

  /** Runs {@code body} as the stage {@code name} and records its time and peak RSS. */
  <T> T time(String name, Body<T> body) throws IOException {
    Running r = start(name);
    T result = body.run();
    r.stop();
    return result;
  }

  /** Starts the stage {@code name}; {@link Running#stop()} records it. */
  Running start(String name) {
    return new Running(this, name, System.nanoTime(), PeakRss.start());
  }

  /** A stage under way, started at {@code t0} ({@link System#nanoTime()}). */
  record Running(StageClock clock, String name, long t0, PeakRss rss) {
    StageTime stop() {
      PeakRss.Sample peak = rss.stop();
      StageTime t =
          new StageTime(
              name,
              Math.round((System.nanoTime() - t0) / 1e8) / 10.0,
              Math.round(peak.megabytes() * 10) / 10.0,
              peak.source());
      clock.times.add(t);
      clock.out.println(line(t));
      return t;
    }
  }

  /**
   * The console line of a finished stage, e.g. {@code [stage] curate: 12.3 s, peak RSS 812.4 MB
   * (VmHWM)}.
   */
  static String line(StageTime t) {
    return String.format(
        Locale.ROOT,
        "[stage] %s: %.1f s, peak RSS %.1f MB (%s)",
        t.name(),
        t.seconds(),
        t.peakRssMb(),
        t.peakRssSource());
  }

  List<StageTime> times() {
    return List.copyOf(times);
  }

  /** Seconds by stage name (report.json's {@code timings_seconds}). */
  Map<String, Double> seconds() {
    Map<String, Double> m = new LinkedHashMap<>();
    times.forEach(t -> m.put(t.name(), t.seconds()));
    return m;
  }
}
