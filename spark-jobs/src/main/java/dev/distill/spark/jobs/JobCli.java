package dev.distill.spark.jobs;

import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The spark-submit command line of the jobs, through picocli: each job declares its options once,
 * in a {@link JobCommand} subclass; options several jobs share are mixins here. Exit codes: 0 ok, 1
 * failure, 2 usage; a failure prints one line, {@code error: <message>}, and the stack trace only
 * with {@code --verbose}.
 */
public final class JobCli {
  private JobCli() {}

  /** The command line of each job, by its main class (deploy shows these under --help). */
  private static final Map<Class<?>, Supplier<JobCommand<?>>> JOBS =
      Map.of(
          IngestJob.class, IngestJob.Cli::new,
          CurateJob.class, CurateJob.Cli::new,
          CurateRationalesJob.class, CurateRationalesJob.Cli::new,
          EvalJob.class, EvalJob.Cli::new,
          FuseJob.class, FuseJob.Cli::new,
          RelabelJob.class, RelabelJob.Cli::new);

  /**
   * The usage text of a job's command line (every option, its argument and its default).
   *
   * @throws IllegalArgumentException for a class that is not one of these jobs
   */
  public static String usage(Class<?> job) {
    Supplier<JobCommand<?>> cli = JOBS.get(job);
    if (cli == null) {
      throw new IllegalArgumentException(job.getName() + " is not a spark-jobs job with a CLI");
    }
    return usage(cli.get());
  }

  static String usage(JobCommand<?> command) {
    return commandLine(command).getUsageMessage(CommandLine.Help.Ansi.OFF);
  }

  /** Bad command line: exit code 2, the message and the usage on stderr. */
  static final class UsageException extends IllegalArgumentException {
    UsageException(String message) {
      super(message);
    }
  }

  /**
   * A job's options; {@link #config()} turns them into the job's validated config record. Options
   * are read only by picocli, which sets the fields.
   */
  @Command(synopsisHeading = "usage: ", sortOptions = false, sortSynopsis = false)
  abstract static class JobCommand<C> {
    @Option(names = "--verbose", description = "Stack traces on failure.")
    boolean verbose;

    /** The config these options describe; a bad value is a {@link UsageException}. */
    abstract C config();

    /** Runs the job on {@code config} and prints what it did. */
    abstract void run(C config) throws Exception;
  }

  /** {@code --output DIR}. */
  static final class Output {
    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Output folder.")
    String dir;
  }

  /** {@code --output DIR --report FILE}: where a batch job writes its data and its report. */
  static final class OutputAndReport {
    @Mixin Output output;

    @Option(
        names = "--report",
        required = true,
        paramLabel = "FILE",
        description = "Report JSON file.")
    String report;
  }

  /** {@code --input DIR}. */
  static final class Input {
    @Option(
        names = "--input",
        required = true,
        paramLabel = "DIR",
        description = "Input Parquet folder.")
    String dir;
  }

  /** {@code --val-fraction F}. */
  static final class ValFraction {
    @Option(
        names = "--val-fraction",
        paramLabel = "F",
        defaultValue = "" + CurateConfig.DEFAULT_VAL_FRACTION,
        description = "Share of records in split=val (default ${DEFAULT-VALUE}).")
    double value;
  }

  /** {@code --target-file-mb MB --max-records-per-file N}: the size of a batch job's files. */
  static final class OutputFileSizes {
    @Option(
        names = "--target-file-mb",
        paramLabel = "MB",
        defaultValue = "" + OutputFiles.DEFAULT_TARGET_MB,
        description =
            "Output file size aimed at; one file per split per task (default ${DEFAULT-VALUE}).")
    int targetFileMb;

    @Option(
        names = "--max-records-per-file",
        paramLabel = "N",
        defaultValue = "0",
        description = "Cap on records per output file; 0 = none (default ${DEFAULT-VALUE}).")
    long maxRecordsPerFile;
  }

  private static CommandLine commandLine(JobCommand<?> command) {
    CommandLine cl = new CommandLine(command);
    cl.setCommandName(command.getClass().getEnclosingClass().getSimpleName());
    cl.setExpandAtFiles(false); // a path may start with '@'
    return cl;
  }

  /** Parses {@code args} into {@code command}'s fields and returns its config. */
  static <C> C parse(JobCommand<C> command, String[] args) {
    try {
      commandLine(command).parseArgs(args);
    } catch (CommandLine.ParameterException e) {
      throw new UsageException(e.getMessage());
    }
    return command.config();
  }

  /** A job's {@code main}: parses, runs, and exits the JVM with 1 or 2 on failure. */
  static <C> void main(JobCommand<C> command, String[] args) {
    int code = exitCode(command, () -> command.run(parse(command, args)));
    if (code != 0) {
      System.exit(code);
    }
  }

  /** Runs a job's main body and maps failures to exit codes: 0 ok, 1 failure, 2 usage. */
  interface Body {
    void run() throws Exception;
  }

  /**
   * Runs {@code body}; a failure prints one line, {@code error: <message>} (our jobs' messages say
   * what failed, which path, what to do), the usage after a {@link UsageException}, and the stack
   * trace only when {@code command} was given {@code --verbose}.
   */
  static int exitCode(JobCommand<?> command, Body body) {
    try {
      body.run();
      return 0;
    } catch (UsageException e) {
      System.err.println("error: " + e.getMessage());
      System.err.print(usage(command));
      return 2;
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      return 2;
    } catch (Exception e) {
      String message = e.getMessage() == null ? e.toString() : e.getMessage();
      System.err.println("error: " + message);
      if (command.verbose) {
        e.printStackTrace(System.err);
      }
      return 1;
    }
  }
}
