package dev.distill.deploy.cli;

import dev.distill.spark.jobs.CurateJob;
import dev.distill.spark.jobs.FuseJob;
import dev.distill.spark.jobs.IngestJob;
import dev.distill.spark.jobs.JobCli;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code distill ingest}, {@code distill curate} and {@code distill fuse}: a spark-jobs entry point
 * run in this JVM on local Spark, for a team on one machine. Every argument after the subcommand
 * goes to the job's own {@code main} unchanged, so the options are exactly those of {@code
 * spark-submit --class ...} (deploy/spark/*.sh) and cannot drift. The job's exit codes are kept: it
 * returns on success and exits the JVM with 1 (failure) or 2 (usage) otherwise. Spark is not
 * imported here (only spark-jobs does): the master reaches the job's session as the {@code
 * spark.master} system property, which is how spark-submit hands it over too.
 */
abstract class SparkJobCommand implements Callable<Integer> {
  @Option(
      names = "--master",
      defaultValue = "local[*]",
      description = "Spark master for the in-process job (default ${DEFAULT-VALUE}).")
  String master;

  @CommandLine.Unmatched List<String> jobArgs = new ArrayList<>();

  private final Class<?> jobClass;
  private final Consumer<String[]> job;

  SparkJobCommand(Class<?> jobClass, Consumer<String[]> job) {
    this.jobClass = jobClass;
    this.job = job;
  }

  /** Puts the job's own usage (its {@code JobCli} options) under {@code --help}. */
  public static final class JobUsage implements CommandLine.IModelTransformer {
    @Override
    public CommandLine.Model.CommandSpec transform(CommandLine.Model.CommandSpec spec) {
      SparkJobCommand command = (SparkJobCommand) spec.userObject();
      spec.usageMessage().footer("", JobCli.usage(command.jobClass));
      return spec;
    }
  }

  @Override
  public Integer call() {
    String before = System.getProperty("spark.master");
    System.setProperty("spark.master", master);
    try {
      job.accept(jobArgs.toArray(String[]::new));
    } finally {
      if (before == null) {
        System.clearProperty("spark.master");
      } else {
        System.setProperty("spark.master", before);
      }
    }
    return 0;
  }

  @Command(
      name = "ingest",
      mixinStandardHelpOptions = true,
      description = {
        "Runs spark-jobs' IngestJob in this JVM on local Spark: the Kafka topic of teacher outputs"
            + " to raw Parquet + quarantine, checkpointed (a re-run resumes).",
        "Every other argument is IngestJob's own, as under spark-submit (below)."
      },
      modelTransformer = JobUsage.class)
  static final class Ingest extends SparkJobCommand {
    Ingest() {
      super(IngestJob.class, IngestJob::main);
    }
  }

  @Command(
      name = "curate",
      mixinStandardHelpOptions = true,
      description = {
        "Runs spark-jobs' CurateJob in this JVM on local Spark: raw or teacher-output Parquet to"
            + " curated Parquet (split=train|val, _SUCCESS) and a curation report.",
        "Every other argument is CurateJob's own, as under spark-submit (below)."
      },
      modelTransformer = JobUsage.class)
  static final class Curate extends SparkJobCommand {
    Curate() {
      super(CurateJob.class, CurateJob::main);
    }
  }

  @Command(
      name = "fuse",
      mixinStandardHelpOptions = true,
      description = {
        "Runs spark-jobs' FuseJob in this JVM on local Spark: raw Parquet of several teachers that"
            + " share a tokenizer to the raw Parquet of one fused teacher (weighted mixture per"
            + " position) and a report with KL(fused || each teacher).",
        "Every other argument is FuseJob's own, as under spark-submit (below)."
      },
      modelTransformer = JobUsage.class)
  static final class Fuse extends SparkJobCommand {
    Fuse() {
      super(FuseJob.class, FuseJob::main);
    }
  }
}
