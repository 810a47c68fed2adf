package dev.distill.benchmarks.cluster;

import dev.distill.deploy.config.ConfigKeys;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.spark.jobs.CurateConfig;
import dev.distill.spark.jobs.CurateJob;
import dev.distill.spark.training.BarrierTrainJob;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.SoftLabeler;
import dev.distill.teacher.inference.TeacherIdentity;
import dev.distill.teacher.io.ParquetOutputSink;
import dev.distill.teacher.labeling.LabelingRun;
import dev.distill.teacher.labeling.TextPrompt;
import dev.distill.trainer.distributed.DataParallelStudentTrainer;
import dev.distill.training.spi.TrainSummary;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Tokens/s of {@code distill train --spark} with 1 and 2 barrier workers, side by side in one run,
 * and the bytes each worker exchanges per synchronisation.
 *
 * <pre>
 * java ... dev.distill.benchmarks.cluster.BarrierTrainBenchmark [MASTER] [STEPS]
 * </pre>
 *
 * MASTER defaults to {@code local[2]} (both workers in one JVM: DJL lets one gradient collector run
 * per JVM, so their forward/backward passes take turns and only the data loading, optimiser step
 * and all-reduce overlap). Curated data: soft labels of the demo-sized student's context (64) from
 * a random teacher of the demo's shape, curated by the real CurateJob; the student is the demo's (2
 * layers, 64 wide, global batch 32).
 */
public final class BarrierTrainBenchmark {
  private BarrierTrainBenchmark() {}

  public static void main(String[] args) throws IOException {
    String master = args.length > 0 ? args[0] : "local[2]";
    int steps = args.length > 1 ? Integer.parseInt(args[1]) : 60;
    Path dir = Files.createTempDirectory("distill-barrier-bench");
    Path tokenizerFile = dir.resolve("tokenizer.json");
    Path curated = dir.resolve("curated");
    prepare(dir, tokenizerFile, curated, master);

    Map<String, String> base = new LinkedHashMap<>(ConfigKeys.defaults(false));
    base.put("student.steps", Integer.toString(steps));
    base.put("curated", curated.toString());
    base.put("tokenizer", tokenizerFile.toString());
    List<String> lines = new ArrayList<>();
    // Reference: the same trainer in this process, no Spark, no exchange (distill train).
    Map<String, String> ref = new LinkedHashMap<>(base);
    ref.put("train.spark.sync", "allreduce");
    ref.put("output", dir.resolve("student-in-process").toString());
    // In its own thread, as a Spark task would run it.
    TrainSummary inProcess;
    try {
      inProcess = ClusterTrainBenchmark.inOwnThread(ref);
    } catch (Exception e) {
      throw new IllegalStateException("the in-process reference run failed", e);
    }
    double oneWorker = inProcess.tokens() / inProcess.seconds();
    lines.add(
        String.format(
            Locale.ROOT,
            "in-process workers=1 steps=%d tokens=%d seconds=%.1f tokens/s=%.0f (x1.00)"
                + " val_loss=%.4f",
            inProcess.steps(),
            inProcess.tokens(),
            inProcess.seconds(),
            oneWorker,
            inProcess.valLoss()));
    for (String sync : List.of("allreduce", "average")) {
      for (int workers : new int[] {1, 2}) {
        if (sync.equals("average") && workers == 1) {
          continue;
        }
        Map<String, String> o = new LinkedHashMap<>(base);
        o.put("train.spark.sync", sync);
        o.put("output", dir.resolve("student-" + sync + "-" + workers).toString());
        List<TrainSummary> s =
            BarrierTrainJob.run(master, DataParallelStudentTrainer.NAME, workers, o);
        long tokens = s.stream().mapToLong(TrainSummary::tokens).sum();
        double seconds = s.stream().mapToDouble(TrainSummary::seconds).max().orElseThrow();
        double tps = tokens / seconds;
        TrainSummary r0 = s.get(0);
        lines.add(
            String.format(
                Locale.ROOT,
                "%-10s workers=%d steps=%d tokens=%d seconds=%.1f tokens/s=%.0f (x%.2f vs"
                    + " in-process) val_loss=%.4f syncs=%d bytes/sync/worker=%d"
                    + " seconds/sync=%.3f",
                sync,
                workers,
                r0.steps(),
                tokens,
                seconds,
                tps,
                tps / oneWorker,
                r0.valLoss(),
                r0.syncs(),
                r0.syncs() == 0 ? 0 : (r0.bytesSent() - 4) / r0.syncs(),
                // wall time not spent computing, per exchange (compute = in-process time x 1/W,
                // upper bound: in one JVM the workers' backward passes take turns)
                r0.syncs() == 0 ? 0.0 : (seconds - inProcess.seconds() / workers) / r0.syncs()));
      }
    }
    System.out.println("master " + master + ", student 2L/2H/64, global batch 32, context 64");
    lines.forEach(System.out::println);
  }

  static void prepare(Path dir, Path tokenizerFile, Path curated, String master)
      throws IOException {
    String text;
    try (InputStream in =
        BarrierTrainBenchmark.class.getResourceAsStream("/corpus/tinyshakespeare.txt")) {
      text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    CharTokenizer tokenizer = CharTokenizer.fromCorpus(text);
    tokenizer.save(tokenizerFile);
    int[] tokens = tokenizer.encode(text);
    int block = 64;
    LabelingConfig lc = new LabelingConfig(8, 2.0f, 64);
    Path teacherOut = dir.resolve("teacher-outputs");
    try (LanguageModel teacher =
        LanguageModel.create(
            new GptConfig(tokenizer.vocabSize(), block, 2, 2, 64, 0f), tokenizer, 7L)) {
      List<TextPrompt> prompts = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        int start = (int) ((long) (tokens.length - block - 1) * i / 1000);
        prompts.add(
            new TextPrompt(
                "bench@" + start,
                "bench/train",
                Arrays.copyOfRange(tokens, start, start + block + 1)));
      }
      try (ParquetOutputSink sink = new ParquetOutputSink(teacherOut.toString(), 1000)) {
        new LabelingRun(
                new SoftLabeler(teacher, lc),
                TeacherIdentity.provenance("bench-teacher", teacher, lc),
                "bench")
            .run(prompts, sink, n -> {});
      }
    }
    CurateJob.run(
        new CurateConfig(
            teacherOut.toString(),
            curated.toString(),
            dir.resolve("curation-report.json").toString(),
            0.1,
            master.startsWith("local-cluster") ? "local[2]" : master));
  }
}
