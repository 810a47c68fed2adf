package dev.distill.benchmarks.schemas;

import dev.distill.schemas.codec.SoftLabelCodec;
import dev.distill.schemas.codec.SoftLabels;
import dev.distill.schemas.validation.SoftLabelValidator;
import dev.distill.schemas.validation.Violation;
import java.util.HashSet;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JMH microbenchmark of the per-record hot path every soft label passes through: the teacher
 * encodes each record ({@link SoftLabelCodec#encode}), curation and the trainer decode it ({@link
 * SoftLabelCodec#decode}) and check it against the data contract ({@link
 * SoftLabelValidator#validate(SoftLabels, int)}).
 *
 * <p>The record is one teacher chunk of {@code positions} positions with the top {@code k} ids of a
 * {@code vocab}-sized vocabulary per position (default 64 x top-20 of GPT-2's 50,257 tokens):
 * distinct ids drawn uniformly, probabilities from a Zipf-like decay normalised with a tail mass,
 * fixed seed so every fork measures the same bytes. Scores are microseconds per record; divide by
 * {@code positions} for the cost per token. Command: benchmarks/README.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SoftLabelCodecBenchmark {
  @Param("64")
  public int positions;

  @Param("20")
  public int k;

  @Param("50257")
  public int vocab;

  private SoftLabels labels;
  private byte[] encoded;

  @Setup
  public void setUp() {
    labels = randomLabels(positions, k, vocab, new Random(17));
    encoded = SoftLabelCodec.encode(labels);
    // A benchmark of a path that fails measures the exception, not the codec: check once here.
    SoftLabels decoded = SoftLabelCodec.decode(encoded);
    if (decoded.positions() != positions
        || decoded.k() != k
        || SoftLabelValidator.validate(labels, vocab).isPresent()
        || SoftLabelValidator.validate(decoded, vocab).isPresent()) {
      throw new IllegalStateException("benchmark record does not round-trip or validate");
    }
  }

  @Benchmark
  public byte[] encode() {
    return SoftLabelCodec.encode(labels);
  }

  @Benchmark
  public SoftLabels decode() {
    return SoftLabelCodec.decode(encoded);
  }

  @Benchmark
  public Optional<Violation> validate() {
    return SoftLabelValidator.validate(labels, vocab);
  }

  /** Decode then validate: what a reader of teacher records does per record. */
  @Benchmark
  public Optional<Violation> decodeAndValidate() {
    return SoftLabelValidator.validate(SoftLabelCodec.decode(encoded), vocab);
  }

  static SoftLabels randomLabels(int positions, int k, int vocab, Random random) {
    int[] ids = new int[positions * k];
    float[] probs = new float[positions * k];
    float[] tail = new float[positions];
    for (int pos = 0; pos < positions; pos++) {
      // Distinct ids: rejection sampling is cheap because k is far below vocab.
      Set<Integer> seen = new HashSet<>();
      double[] weights = new double[k];
      double total = 0;
      for (int j = 0; j < k; j++) {
        int id;
        do {
          id = random.nextInt(vocab);
        } while (!seen.add(id));
        ids[pos * k + j] = id;
        weights[j] = 1.0 / ((j + 1) * (j + 1));
        total += weights[j];
      }
      // 90% of the mass on the top-k, the rest in the tail bucket.
      for (int j = 0; j < k; j++) {
        probs[pos * k + j] = (float) (0.9 * weights[j] / total);
      }
      tail[pos] = 0.1f;
    }
    return new SoftLabels(positions, k, ids, probs, tail);
  }
}
