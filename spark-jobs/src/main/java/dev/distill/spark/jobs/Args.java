package dev.distill.spark.jobs;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** A tiny {@code --name value} parser for the spark-submit entry points. */
final class Args {
  /** Bad command line: exit code 2. */
  static final class UsageException extends IllegalArgumentException {
    UsageException(String message) {
      super(message);
    }
  }

  private final Map<String, List<String>> values = new LinkedHashMap<>();

  private Args() {}

  static Args parse(String[] args, Set<String> single, Set<String> repeatable) {
    Args a = new Args();
    for (int i = 0; i < args.length; i++) {
      String name = args[i];
      if (name.equals("--verbose")) {
        continue; // a flag: read by exitCode's caller (verbose(args))
      }
      String value;
      int eq = name.indexOf('=');
      if (name.startsWith("--") && eq > 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
      } else {
        if (i + 1 >= args.length) {
          throw new UsageException("missing value for " + name);
        }
        value = args[++i];
      }
      String key = name.startsWith("--") ? name.substring(2) : name;
      if (!single.contains(key) && !repeatable.contains(key)) {
        throw new UsageException("unknown option " + name);
      }
      List<String> list = a.values.computeIfAbsent(key, k -> new ArrayList<>());
      if (single.contains(key) && !list.isEmpty()) {
        throw new UsageException("option --" + key + " given twice");
      }
      list.add(value);
    }
    return a;
  }

  String required(String key) {
    List<String> v = values.get(key);
    if (v == null) {
      throw new UsageException("missing required option --" + key);
    }
    return v.get(0);
  }

  String optional(String key, String fallback) {
    List<String> v = values.get(key);
    return v == null ? fallback : v.get(0);
  }

  List<String> all(String key) {
    return values.getOrDefault(key, List.of());
  }

  /** Runs a job's main body and maps failures to exit codes: 0 ok, 1 failure, 2 usage. */
  interface Body {
    void run() throws Exception;
  }

  static int exitCode(String usage, Body body) {
    return exitCode(usage, false, body);
  }

  /**
   * As {@link #exitCode(String, Body)}; a failure prints one line, {@code error: <message>} (our
   * jobs' messages say what failed, which path, what to do), and the stack trace only when {@code
   * verbose}.
   */
  static int exitCode(String usage, boolean verbose, Body body) {
    try {
      body.run();
      return 0;
    } catch (UsageException e) {
      System.err.println("error: " + e.getMessage());
      System.err.println(usage);
      return 2;
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      return 2;
    } catch (Exception e) {
      String message = e.getMessage() == null ? e.toString() : e.getMessage();
      System.err.println("error: " + message);
      if (verbose) {
        e.printStackTrace(System.err);
      }
      return 1;
    }
  }

  /** Whether the command line holds {@code --verbose}. */
  static boolean verbose(String[] args) {
    return java.util.Arrays.asList(args).contains("--verbose");
  }

  /** The command line without {@code --verbose} (a flag, not a {@code --name value} pair). */
  static String[] withoutVerbose(String[] args) {
    return java.util.Arrays.stream(args).filter(a -> !a.equals("--verbose")).toArray(String[]::new);
  }
}
