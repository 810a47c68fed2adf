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
 * Times the pipeline's stages one after the other: wall seconds, process CPU seconds and peak RSS
 * of each (issue 13, ask 5), a console line per stage, and {@code report.json}'s {@code stages}
 * list. Stages never nest: each resets the process's high-water mark when it starts. CPU seconds
 * are what to compare while the machine is shared: wall seconds then depend on the other load, CPU
 * seconds much less (a stage that keeps both cores busy on an idle machine takes about half its CPU
 * seconds of wall time).
 */
final class StageClock {
  /**
   * One finished stage.
   *
   * @param cpuSeconds CPU time of the whole process (every thread, libtorch's and Spark's included)
   *     over the stage; -1 where the JVM cannot tell
   * @param peakRssSource {@code VmHWM} (the kernel's mark, whole process) or {@code jvm-heap-peak}
   *     (Java heap only; see {@link PeakRss})
   * @param parts CPU seconds of the stage's jobs that ran concurrently, each on its own thread (see
   *     {@link Running#part}), by job; empty for a stage of one job
   */
  record StageTime(
      String name,
      double seconds,
      @SerializedName("cpu_seconds") double cpuSeconds,
      @SerializedName("peak_rss_mb") double peakRssMb,
      @SerializedName("peak_rss_source") String peakRssSource,
      @SerializedName("cpu_seconds_by_part") Map<String, Double> parts) {
    StageTime {
      // pipeline.json written before parts existed reads back without them
      parts =
          java.util.Collections.unmodifiableMap(
              parts == null ? new LinkedHashMap<>() : new LinkedHashMap<>(parts));
    }
  }

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
    return time(name, r -> body.run());
  }

  /** A stage's work that reports its concurrent jobs' CPU seconds to {@code running}. */
  interface PartsBody<T> {
    T run(Running running) throws IOException;
  }

  /**
   * Runs {@code body} as the stage {@code name}, handing it the running stage so that it can record
   * its parts' CPU seconds ({@link Running#part}).
   */
  <T> T time(String name, PartsBody<T> body) throws IOException {
    Running r = start(name);
    T result = body.run(r);
    r.stop();
    return result;
  }

  /** Starts the stage {@code name}; {@link Running#stop()} records it. */
  Running start(String name) {
    return new Running(
        this,
        name,
        System.nanoTime(),
        processCpuNanos(),
        PeakRss.start(),
        java.util.Collections.synchronizedMap(new LinkedHashMap<>()));
  }

  /**
   * A stage under way, started at {@code t0} ({@link System#nanoTime()}) and {@code cpu0} ({@link
   * #processCpuNanos()}).
   */
  record Running(
      StageClock clock, String name, long t0, long cpu0, PeakRss rss, Map<String, Double> parts) {
    /**
     * Records the CPU seconds of one of the stage's concurrent jobs (e.g. one student's training
     * thread), shown in its console line and in {@code cpu_seconds_by_part}.
     */
    void part(String job, double cpuSeconds) {
      parts.put(job, Math.round(cpuSeconds * 10) / 10.0);
    }

    StageTime stop() {
      PeakRss.Sample peak = rss.stop();
      long cpu1 = processCpuNanos();
      StageTime t =
          new StageTime(
              name,
              Math.round((System.nanoTime() - t0) / 1e8) / 10.0,
              cpu0 < 0 || cpu1 < 0 ? -1 : Math.round((cpu1 - cpu0) / 1e8) / 10.0,
              Math.round(peak.megabytes() * 10) / 10.0,
              peak.source(),
              new LinkedHashMap<>(parts));
      clock.times.add(t);
      clock.out.println(line(t));
      return t;
    }
  }

  /**
   * CPU nanoseconds this process has used, every thread (native ones included); -1 where the JVM
   * does not expose it.
   */
  static long processCpuNanos() {
    java.lang.management.OperatingSystemMXBean os =
        java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    return os instanceof com.sun.management.OperatingSystemMXBean sun
        ? sun.getProcessCpuTime()
        : -1;
  }

  /**
   * The console line of a finished stage, e.g. {@code [stage] curate: 12.3 s, 20.1 CPU-s, peak RSS
   * 812.4 MB (VmHWM)}, with {@code [a 10.0 CPU-s, b 9.5 CPU-s]} after it when it had parts.
   */
  static String line(StageTime t) {
    StringBuilder parts = new StringBuilder();
    t.parts()
        .forEach(
            (k, v) ->
                parts
                    .append(parts.length() == 0 ? " [" : ", ")
                    .append(String.format(Locale.ROOT, "%s %.1f CPU-s", k, v)));
    if (parts.length() > 0) {
      parts.append(']');
    }
    return String.format(
        Locale.ROOT,
        "[stage] %s: %.1f s, %.1f CPU-s, peak RSS %.1f MB (%s)%s",
        t.name(),
        t.seconds(),
        t.cpuSeconds(),
        t.peakRssMb(),
        t.peakRssSource(),
        parts);
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
