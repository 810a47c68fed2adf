package dev.distill.deploy.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The one plain line a failed {@code distill} command prints (issue 17): what failed, in the words
 * of the exceptions' own messages (which name the file, record or key and what to do), joined along
 * the cause chain without repeats, never a stack trace. {@code --verbose} adds the trace, and a
 * command with a run folder also appends it to that run's log ({@link #appendToLog}).
 */
final class FailureLine {
  /** Most causes quoted; deeper ones are in the {@code --verbose} trace. */
  private static final int MAX_PARTS = 4;

  private FailureLine() {}

  /**
   * @param command e.g. {@code distill label}
   */
  static String of(String command, Throwable failure) {
    return command + ": " + describe(failure);
  }

  /**
   * Appends the failure's one line and full stack trace, with the time, to {@code log} (created
   * with its folder if needed), so that a run that failed keeps its trace beside its outputs while
   * the console shows one line. Never throws: a log that cannot be written must not hide the
   * failure itself, which the caller rethrows.
   *
   * @return whether the trace was written
   */
  static boolean appendToLog(Path log, String command, Throwable failure) {
    StringWriter trace = new StringWriter();
    try (PrintWriter w = new PrintWriter(trace)) {
      w.println(Instant.now() + " " + of(command, failure));
      failure.printStackTrace(w);
    }
    try {
      Files.createDirectories(log.toAbsolutePath().getParent());
      Files.writeString(
          log,
          trace.toString(),
          StandardCharsets.UTF_8,
          StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
      return true;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** The messages along the cause chain, each once, on one line. */
  static String describe(Throwable failure) {
    List<String> parts = new ArrayList<>();
    int depth = 0;
    for (Throwable t = failure; t != null && depth < 32; t = t.getCause(), depth++) {
      // A wrapper whose message is only its cause's toString() says nothing of its own.
      if (t.getCause() != null
          && t.getMessage() != null
          && t.getMessage().equals(t.getCause().toString())) {
        continue;
      }
      String m = sentence(t);
      if (m.isEmpty() || parts.stream().anyMatch(p -> p.contains(m))) {
        continue;
      }
      // A file error under a message that already names the file adds nothing.
      if (t instanceof FileSystemException f
          && f.getFile() != null
          && parts.stream().anyMatch(p -> p.contains(f.getFile()))) {
        continue;
      }
      parts.add(m);
      if (parts.size() == MAX_PARTS) {
        break;
      }
    }
    return parts.isEmpty() ? failure.getClass().getSimpleName() : String.join(": ", parts);
  }

  /** One exception's own words, on one line; the JDK's file exceptions said in full. */
  static String sentence(Throwable t) {
    if (t instanceof NoSuchFileException f) {
      return "no such file or folder: " + f.getFile() + reason(f);
    }
    if (t instanceof AccessDeniedException f) {
      return "permission denied: " + f.getFile() + reason(f);
    }
    if (t instanceof NotDirectoryException f) {
      return "not a folder: " + f.getFile();
    }
    if (t instanceof FileAlreadyExistsException f) {
      return "already exists: " + f.getFile();
    }
    if (t instanceof DirectoryNotEmptyException f) {
      return "folder not empty: " + f.getFile();
    }
    String m = t.getMessage();
    if (m == null || m.isBlank()) {
      // No words of its own (e.g. a NullPointerException): its kind is all there is.
      return t.getClass().getSimpleName();
    }
    // The first line only: further lines are traces or a parser's troubleshooting links.
    return m.strip().lines().findFirst().orElse("").strip();
  }

  private static String reason(FileSystemException f) {
    return f.getReason() == null ? "" : " (" + f.getReason() + ")";
  }
}
