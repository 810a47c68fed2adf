package dev.distill.deploy.cli;

import dev.distill.deploy.config.ConfigKeys;
import dev.distill.deploy.pipeline.DemoConfig;
import dev.distill.schemas.distributed.AllReduce;
import dev.distill.schemas.distributed.TrainSummary;
import dev.distill.schemas.distributed.WorkerTask;
import dev.distill.spark.training.BarrierTrainJob;
import dev.distill.trainer.distributed.DataParallelStudentTrainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * {@code distill train}: the KD student on a curated folder, in this process or, with {@code
 * --spark}, data-parallel on Spark in barrier execution mode (one DJL trainer per barrier task).
 */
@Command(
    name = "train",
    mixinStandardHelpOptions = true,
    description = {
      "Trains the KD student (conf/train.conf) on a curated Parquet folder and writes its"
          + " checkpoint to --output.",
      "With --spark, runs train.spark.workers barrier tasks on spark.master, synchronised every"
          + " step (train.spark.sync = allreduce) or every train.spark.average-every steps"
          + " (average); the student-trainer jars must be on the Spark class path."
    })
final class TrainCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--curated", required = true, description = "Curated folder (with _SUCCESS).")
  String curated;

  @Option(
      names = "--tokenizer",
      required = true,
      description = "The teacher's tokenizer.json (e.g. runs/demo/models/teacher/tokenizer.json).")
  Path tokenizer;

  @Option(names = "--output", required = true, description = "Checkpoint folder to write.")
  String output;

  @Option(names = "--spark", description = "Data-parallel on Spark (barrier execution mode).")
  boolean spark;

  @Option(
      names = "--config",
      description = "A key = value file, or a folder of *.conf files (repeatable).")
  List<Path> configFiles = new ArrayList<>();

  @Option(names = "--set", description = "Override one key, e.g. --set train.spark.workers=4.")
  Map<String, String> sets = new LinkedHashMap<>();

  @Override
  public Integer call() throws IOException {
    Map<String, String> options;
    try {
      Map<String, String> overrides =
          ConfigSources.collect(
              configFiles, System.getenv(), sets, DemoConfig.defaults(false).keySet());
      DemoConfig config = DemoConfig.from(overrides); // validates every key and value
      options = new LinkedHashMap<>(DemoConfig.defaults(config.quick()));
      options.putAll(overrides);
      options.putAll(config.toMap());
      for (ConfigKeys.Key k : ConfigKeys.all()) {
        if (k.secret()) {
          options.remove(k.name()); // never shipped to executors
        }
      }
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    options.put("curated", curated);
    options.put("tokenizer", tokenizer.toAbsolutePath().toString());
    options.put("output", output);
    int workers = spark ? Integer.parseInt(options.get("train.spark.workers")) : 1;
    List<TrainSummary> summaries;
    try {
      if (spark) {
        summaries =
            BarrierTrainJob.run(
                options.get("spark.master"), DataParallelStudentTrainer.NAME, workers, options);
      } else {
        summaries =
            List.of(
                new DataParallelStudentTrainer()
                    .train(new WorkerTask(0, 1, options), AllReduce.single()));
      }
    } catch (IOException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
    long tokens = summaries.stream().mapToLong(TrainSummary::tokens).sum();
    double seconds = summaries.stream().mapToDouble(TrainSummary::seconds).max().orElse(0);
    TrainSummary s0 = summaries.get(0);
    System.out.printf(
        Locale.ROOT,
        "[train] %d worker(s), %d steps, val loss %.4f, %,.0f tokens/s, %,d bytes sent per worker"
            + " per sync (%d syncs), %d examples unused%n",
        workers,
        s0.steps(),
        s0.valLoss(),
        tokens / seconds,
        s0.syncs() == 0 ? 0 : s0.bytesSent() / s0.syncs(),
        s0.syncs(),
        s0.unusedExamples());
    // The full configuration this run used, next to its output (secrets left out above).
    StringBuilder sb = new StringBuilder("# the full configuration this training run used\n");
    options.forEach((k, v) -> sb.append(k).append(" = ").append(v).append('\n'));
    Path out = Path.of(output);
    Files.writeString(out.resolveSibling(out.getFileName() + ".config.properties"), sb.toString());
    System.out.println(output);
    return 0;
  }
}
