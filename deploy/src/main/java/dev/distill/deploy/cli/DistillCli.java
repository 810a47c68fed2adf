package dev.distill.deploy.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code distill} command line: one entry point for every stage. Exit codes: 0 ok, 1 failure, 2
 * usage error.
 */
@Command(
    name = "distill",
    mixinStandardHelpOptions = true,
    version = "distill 0.1.0",
    description = "Distributed knowledge distillation for language models.",
    subcommands = {
      DemoCommand.class,
      EvalCommand.class,
      TrainCommand.class,
      ConfigCommand.class,
      CommandLine.HelpCommand.class
    })
public final class DistillCli implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "name a subcommand, e.g. demo");
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
