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
    Path bin = binary();
    ProcessBuilder pb =
        new ProcessBuilder(
            bin.toString(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--user-data-dir=" + profile.toAbsolutePath(),
            "--virtual-time-budget=5000",
            "--dump-dom",
            html.toUri().toString());
    Path log = profile.resolve("chromium.log");
    Files.createDirectories(profile);
    pb.redirectError(log.toFile());
    Process p = pb.start();
    byte[] dom = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("chromium timed out; see " + log);
    }
    return new String(dom, StandardCharsets.UTF_8);
  }
}
