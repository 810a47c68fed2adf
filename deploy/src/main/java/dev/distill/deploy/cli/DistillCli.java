package dev.distill.deploy.cli;

import dev.distill.teacher.TeacherServiceMain;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IModelTransformer;
import picocli.CommandLine.Model.CommandSpec;

/**
 * The {@code distill} command line: one entry point for every stage. Exit codes: 0 ok, 1 failure, 2
 * usage error.
 */
@Command(
    name = "distill",
    mixinStandardHelpOptions = true,
    version = "distill 0.1.0",
    description = "Distributed knowledge distillation for language models.",
    modelTransformer = DistillCli.TeacherCommands.class,
    subcommands = {
      DemoCommand.class,
      EvalCommand.class,
      TrainCommand.class,
      ConfigCommand.class,
      ClusterCommand.class,
      SparkJobCommand.Ingest.class,
      SparkJobCommand.Curate.class,
      SparkJobCommand.Fuse.class,
      CommandLine.HelpCommand.class
    })
public final class DistillCli implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  /** Read by {@link #execute} wherever it stands; declared here so that --help lists it. */
  @CommandLine.Option(
      names = VERBOSE,
      description = "On failure, print the stack trace after the one-line error (any position).")
  boolean verbose;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "name a subcommand, e.g. demo");
  }

  /**
   * Adds teacher-service's own picocli commands: {@code distill serve} is {@code teacher-service
   * serve} (HTTP API and/or the Kafka loop, until SIGTERM) and {@code distill label} is {@code
   * teacher-service batch} (a file of prompts to Parquet, finite: the scheduled labelling step).
   * They are the same command objects, not copies, so their options, defaults and {@code --help}
   * are teacher-service's and cannot drift. A model transformer rather than {@code subcommands}
   * because those classes are private to teacher-service's entry point; it runs for every {@code
   * new CommandLine(new DistillCli())}, so the manifest and DAG tests see these subcommands too.
   */
  public static final class TeacherCommands implements IModelTransformer {
    @Override
    public CommandSpec transform(CommandSpec spec) {
      CommandLine teacher = new CommandLine(new TeacherServiceMain());
      spec.addSubcommand("serve", teacher.getSubcommands().get("serve"));
      CommandLine label = teacher.getSubcommands().get("batch");
      // Renamed, so that usage and errors say `distill label`, not `distill batch`.
      label.getCommandSpec().name("label");
      spec.addSubcommand("label", label);
      return spec;
    }
  }

  /**
   * Runs a command. On failure it prints one plain line ({@link FailureLine}: what failed, which
   * file, record or key, what to do) and exits 1; a usage error prints one line naming the option
   * and exits 2. {@code --verbose} anywhere before {@code --} (or {@code DISTILL_DEBUG} set) adds
   * the stack trace.
   */
  public static int execute(String... args) {
    boolean verbose = System.getenv("DISTILL_DEBUG") != null;
    List<String> rest = new ArrayList<>();
    boolean options = true;
    for (String a : args) {
      if (options && a.equals(VERBOSE)) {
        verbose = true;
        continue;
      }
      options &= !a.equals("--");
      rest.add(a);
    }
    boolean trace = verbose;
    CommandLine cli = new CommandLine(new DistillCli());
    cli.setExecutionExceptionHandler(
        (e, cmd, parseResult) -> {
          cmd.getErr().println(FailureLine.of(name(cmd), e) + (trace ? "" : HINT));
          if (trace) {
            e.printStackTrace(cmd.getErr());
          }
          cmd.getErr().flush();
          return 1;
        });
    cli.setParameterExceptionHandler(
        (e, given) -> {
          CommandLine cmd = e.getCommandLine();
          String line = FailureLine.of(name(cmd), e);
          if (e instanceof CommandLine.UnmatchedArgumentException u
              && !u.getSuggestions().isEmpty()) {
            line += " (did you mean " + String.join(" or ", u.getSuggestions()) + "?)";
          }
          // A bad value found by the command (it carries a cause) already says what to do.
          cmd.getErr()
              .println(
                  e.getCause() != null
                      ? line
                      : line + "; `" + name(cmd) + " --help` lists the options");
          if (trace) {
            e.printStackTrace(cmd.getErr());
          }
          cmd.getErr().flush();
          return cmd.getCommandSpec().exitCodeOnInvalidInput();
        });
    return cli.execute(rest.toArray(String[]::new));
  }

  static final String VERBOSE = "--verbose";
  private static final String HINT = " (" + VERBOSE + " prints the stack trace)";

  /** e.g. {@code distill label} */
  private static String name(CommandLine cmd) {
    return cmd.getCommandSpec().qualifiedName();
  }

  public static void main(String[] args) {
    System.exit(execute(args));
  }
}
