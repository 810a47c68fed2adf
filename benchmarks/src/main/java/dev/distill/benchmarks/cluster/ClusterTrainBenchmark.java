package dev.distill.benchmarks.cluster;

import dev.distill.deploy.config.ConfigKeys;
import dev.distill.spark.cluster.StandaloneCluster;
import dev.distill.spark.training.BarrierTrainJob;
import dev.distill.trainer.distributed.DataParallelStudentTrainer;
import dev.distill.training.spi.AllReduce;
import dev.distill.training.spi.TrainSummary;
import dev.distill.training.spi.WorkerTask;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Issue 16, ask 4: one process with 2 threads against 2 executors with 1 thread each, at equal
 * total tokens, side by side in one run on a standalone cluster this main starts ({@link
 * StandaloneCluster}: 2 Workers x 1 core) and stops.
 *
 * <pre>
 * java ... dev.distill.benchmarks.cluster.ClusterTrainBenchmark [STEPS] [H] [ROUNDS] [TRANSPORTS]
 * </pre>
 *
 * A = {@link DataParallelStudentTrainer} in this JVM with {@link AllReduce#single()} (libtorch's
 * default intra-op threads: the 2 cores), global batch 32. B = the same trainer as 2 barrier tasks
 * on the cluster, 16 sequences each (global batch 32, so equal tokens per step), each executor with
 * {@code OMP_NUM_THREADS=1} (the Worker's cores), {@code train.spark.sync=diloco} with H inner
 * steps, over each all-reduce transport of TRANSPORTS ({@code train.spark.transport}, comma
 * separated, default {@code socket}; {@code socket,barrier} compares both). Rounds are interleaved
 * A, B(socket), B(barrier), A, ...; medians are printed per transport with their ratio to A, the
 * val losses, the ms per exchange (one per outer step) and the bytes each worker sends per outer
 * step. Student and data: {@link BarrierTrainBenchmark}'s (the demo's 2L/2H/64 KD student, context
 * 64).
 */
public final class ClusterTrainBenchmark {
  private ClusterTrainBenchmark() {}

  public static void main(String[] args) throws Exception {
    int steps = args.length > 0 ? Integer.parseInt(args[0]) : 100;
    int h = args.length > 1 ? Integer.parseInt(args[1]) : 50;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 2;
    List<String> transports = List.of((args.length > 3 ? args[3] : "socket").split(","));
    Path dir = Files.createTempDirectory("distill-cluster-bench");
    Path tokenizerFile = dir.resolve("tokenizer.json");
    Path curated = dir.resolve("curated");
    BarrierTrainBenchmark.prepare(dir, tokenizerFile, curated, "local[2]");

    Map<String, String> base = new LinkedHashMap<>(ConfigKeys.defaults(false));
    base.put("student.steps", Integer.toString(steps));
    base.put("curated", curated.toString());
    base.put("tokenizer", tokenizerFile.toString());
    base.put("train.spark.inner-steps", Integer.toString(h));

    Path state = dir.resolve("cluster");
    List<double[]> a = new ArrayList<>(); // tokens/s, val loss
    // per transport: tokens/s, val loss, bytes per outer step, ms per exchange
    Map<String, List<double[]>> b = new LinkedHashMap<>();
    for (String t : transports) {
      b.put(t, new ArrayList<>());
    }
    StandaloneCluster.Running cluster =
        StandaloneCluster.start(state, 2, 1, "2g", Duration.ofSeconds(300));
    try {
      for (int r = 0; r < rounds; r++) {
        Map<String, String> ref = new LinkedHashMap<>(base);
        ref.put("train.spark.sync", "allreduce");
        ref.put("output", dir.resolve("in-process-" + r).toString());
        TrainSummary s = inOwnThread(ref);
        // The workers' own timed window (after timing.warmup-steps): JVM, executor start-up and the
        // first steps' warm-up stay outside the ratio (issue 16).
        a.add(new double[] {s.timed().tokensPerSecond(), s.valLoss()});
        System.out.printf(
            Locale.ROOT,
            "round %d A in-process, 2 threads: %.0f tokens/s, val loss %.4f%n",
            r,
            a.get(r)[0],
            s.valLoss());

        for (String transport : transports) {
          Map<String, String> o = new LinkedHashMap<>(base);
          o.put("train.spark.sync", "diloco");
          o.put(BarrierTrainJob.TRANSPORT, transport);
          o.put("output", dir.resolve("cluster-" + transport + "-" + r).toString());
          List<TrainSummary> w =
              BarrierTrainJob.run(cluster.masterUrl(), DataParallelStudentTrainer.NAME, 2, o);
          long tokens = w.stream().mapToLong(x -> x.timed().tokens()).sum();
          double seconds = w.stream().mapToDouble(x -> x.timed().seconds()).max().orElseThrow();
          TrainSummary w0 = w.get(0);
          // bytesSent includes the 4-byte start check (one float); syncs are the outer steps
          double perOuter = w0.syncs() == 0 ? 0 : (w0.bytesSent() - 4) / (double) w0.syncs();
          double msPerExchange = w0.timed().msPerExchange();
          b.get(transport)
              .add(new double[] {tokens / seconds, w0.valLoss(), perOuter, msPerExchange});
          System.out.printf(
              Locale.ROOT,
              "round %d B 2 executors x 1 thread, diloco H=%d, transport %s: %.0f tokens/s, val"
                  + " loss %.4f, %d outer steps, %.0f bytes sent per worker per outer step, %.1f"
                  + " ms per exchange (one per outer step), %.1f ms per step outside exchanges"
                  + " (%s | %s)%n",
              r,
              h,
              transport,
              tokens / seconds,
              w0.valLoss(),
              w0.syncs(),
              perOuter,
              msPerExchange,
              w0.timed().msPerStepOutsideExchanges(),
              w0.process(),
              w.get(1).process());
        }
      }
    } finally {
      StandaloneCluster.stop(state);
    }
    double ta = median(a, 0);
    for (Map.Entry<String, List<double[]>> e : b.entrySet()) {
      List<double[]> rows = e.getValue();
      double tb = median(rows, 0);
      System.out.printf(
          Locale.ROOT,
          "medians over %d rounds, %d steps x global batch 32 x 64 tokens, transport %s: A %.0f"
              + " tokens/s (val loss %.4f), B %.0f tokens/s (val loss %.4f), ratio B/A %.2f, %.1f"
              + " ms per exchange (outer step), %.0f bytes per outer step per worker%n",
          rounds,
          steps,
          e.getKey(),
          ta,
          median(a, 1),
          tb,
          median(rows, 1),
          tb / ta,
          median(rows, 3),
          median(rows, 2));
    }
  }

  /** In its own thread, as a Spark task runs it (BarrierTrainBenchmark explains why). */
  static TrainSummary inOwnThread(Map<String, String> options) throws Exception {
    TrainSummary[] holder = new TrainSummary[1];
    Exception[] failure = new Exception[1];
    Thread t =
        new Thread(
            () -> {
              try {
                holder[0] =
                    new DataParallelStudentTrainer()
                        .train(
                            new WorkerTask(0, 1, WorkerTask.Job.fromOptions(options)),
                            AllReduce.single());
              } catch (Exception e) {
                failure[0] = e;
              }
            });
    t.start();
    t.join();
    if (failure[0] != null) {
      throw failure[0];
    }
    return holder[0];
  }

  private static double median(List<double[]> rows, int column) {
    double[] v = rows.stream().mapToDouble(r -> r[column]).sorted().toArray();
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }
}
