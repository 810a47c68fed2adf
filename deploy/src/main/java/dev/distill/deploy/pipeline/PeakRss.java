package dev.distill.deploy.pipeline;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * Peak resident memory of this process over one stage (issue 13, ask 5). On Linux the kernel keeps
 * the high-water mark {@code VmHWM} in {@code /proc/self/status}; writing {@code 5} to {@code
 * /proc/self/clear_refs} resets it to the current RSS (proc(5), "clear_refs"), so the mark read at
 * the stage's end is that stage's peak. Where either file is missing or refused, the peak comes
 * from the JVM's heap pools instead (peak used bytes since their reset), which leaves out native
 * memory such as libtorch's tensors: {@link Sample#source()} says which one a figure is.
 */
final class PeakRss {
  static final String VM_HWM = "VmHWM";
  static final String JVM_HEAP = "jvm-heap-peak";
  private static final Path STATUS = Path.of("/proc/self/status");
  private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

  /**
   * A peak in megabytes (2^20 bytes) and where it was read: {@code VmHWM} or {@code jvm-heap-peak}.
   */
  record Sample(double megabytes, String source) {}

  private final boolean reset;

  private PeakRss(boolean reset) {
    this.reset = reset;
  }

  /** Starts a measurement: resets the kernel's high-water mark and the JVM pools' peaks. */
  static PeakRss start() {
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      pool.resetPeakUsage();
    }
    boolean reset;
    try {
      Files.writeString(CLEAR_REFS, "5", StandardCharsets.US_ASCII);
      reset = true;
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      reset = false; // not Linux, or a kernel/container that refuses it: fall back to the heap
    }
    return new PeakRss(reset);
  }

  /** The peak since {@link #start()}. */
  Sample stop() {
    if (reset) {
      try {
        OptionalLong kb = vmHwmKb(Files.readString(STATUS, StandardCharsets.US_ASCII));
        if (kb.isPresent()) {
          return new Sample(kb.getAsLong() / 1024.0, VM_HWM);
        }
      } catch (IOException e) {
        // fall through to the JVM's figure
      }
    }
    long peak = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
        peak += pool.getPeakUsage().getUsed();
      }
    }
    return new Sample(peak / (1024.0 * 1024.0), JVM_HEAP);
  }

  /**
   * The {@code VmHWM} line of a {@code /proc/<pid>/status} text, in kB (the kernel always writes
   * {@code VmHWM:<spaces or tabs><n> kB}); empty when the line is absent or malformed.
   */
  static OptionalLong vmHwmKb(String status) {
    for (String line : status.split("\n")) {
      if (!line.startsWith(VM_HWM + ":")) {
        continue;
      }
      String[] parts = line.substring(VM_HWM.length() + 1).trim().split("\\s+");
      if (parts.length != 2 || !parts[1].equals("kB")) {
        return OptionalLong.empty();
      }
      try {
        long kb = Long.parseLong(parts[0]);
        return kb < 0 ? OptionalLong.empty() : OptionalLong.of(kb);
      } catch (NumberFormatException e) {
        return OptionalLong.empty();
      }
    }
    return OptionalLong.empty();
  }
}
