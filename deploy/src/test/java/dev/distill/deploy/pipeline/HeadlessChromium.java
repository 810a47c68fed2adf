package dev.distill.deploy.pipeline;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Debian's Chromium, headless, as a real browser for report tests. */
final class HeadlessChromium {
  private HeadlessChromium() {}

  static Path binary() {
    for (String c : List.of("/usr/bin/chromium", "/usr/bin/chromium-browser")) {
      if (Files.isExecutable(Path.of(c))) {
        return Path.of(c);
      }
    }
    return null;
  }

  /** Loads a local file, runs its scripts, and returns the DOM as serialised after them. */
  static String dumpDom(Path html, Path profile) throws IOException, InterruptedException {
    return new String(run(profile, "--dump-dom", html.toUri().toString()), StandardCharsets.UTF_8);
  }

  /**
   * Loads a local file in a {@code width} x {@code height} window and writes what the window shows
   * to {@code png}.
   */
  static void screenshot(Path html, Path png, int width, int height, Path profile)
      throws IOException, InterruptedException {
    run(
        profile,
        "--hide-scrollbars",
        "--window-size=" + width + "," + height,
        "--screenshot=" + png.toAbsolutePath(),
        html.toUri().toString());
    if (!Files.isRegularFile(png)) {
      throw new IOException("chromium wrote no screenshot " + png + "; see " + profile);
    }
  }

  private static byte[] run(Path profile, String... args) throws IOException, InterruptedException {
    List<String> cmd =
        new java.util.ArrayList<>(
            List.of(
                binary().toString(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--user-data-dir=" + profile.toAbsolutePath(),
                "--virtual-time-budget=5000"));
    cmd.addAll(List.of(args));
    Path log = profile.resolve("chromium.log");
    Files.createDirectories(profile);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.redirectError(log.toFile());
    Process p = pb.start();
    byte[] stdout = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("chromium timed out; see " + log);
    }
    return stdout;
  }

  /**
   * Pixels of {@code image} within {@code tolerance} (per channel) of each colour, by colour: how
   * much of each chart series colour a screenshot shows.
   */
  static java.util.Map<Integer, Integer> pixelsNear(
      java.awt.image.BufferedImage image, int[] rgbs, int tolerance) {
    java.util.Map<Integer, Integer> counts = new java.util.LinkedHashMap<>();
    for (int c : rgbs) {
      counts.put(c, 0);
    }
    for (int y = 0; y < image.getHeight(); y++) {
      for (int x = 0; x < image.getWidth(); x++) {
        int p = image.getRGB(x, y);
        for (int c : rgbs) {
          if (Math.abs(((p >> 16) & 0xff) - ((c >> 16) & 0xff)) <= tolerance
              && Math.abs(((p >> 8) & 0xff) - ((c >> 8) & 0xff)) <= tolerance
              && Math.abs((p & 0xff) - (c & 0xff)) <= tolerance) {
            counts.merge(c, 1, Integer::sum);
          }
        }
      }
    }
    return counts;
  }
}
