package dev.distill.deploy.cli;

import dev.distill.teacher.TeacherServiceMain;
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
      SparkJobCommand.Ingest.class,
      SparkJobCommand.Curate.class,
      SparkJobCommand.Fuse.class,
      CommandLine.HelpCommand.class
    })
public final class DistillCli implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

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

  public static int execute(String... args) {
    CommandLine cli = new CommandLine(new DistillCli());
    cli.setExecutionExceptionHandler(
        (e, cmd, parseResult) -> {
          cmd.getErr().println("distill: " + e.getMessage());
          if (System.getenv("DISTILL_DEBUG") != null) {
            e.printStackTrace(cmd.getErr());
          }
          return 1;
        });
    return cli.execute(args);
  }

  public static void main(String[] args) {
    System.exit(execute(args));
  }
}
