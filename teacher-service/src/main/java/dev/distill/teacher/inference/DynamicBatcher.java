package dev.distill.teacher.inference;

import dev.distill.teacher.service.TeacherMetrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Groups concurrent labelling requests into teacher batches: a worker takes the first waiting
 * request, then keeps taking more until the batch holds {@code tokenBudget} tokens or {@code
 * maxWait} has passed since the first, and labels them in one call (one forward per length). Under
 * load batches fill at once and throughput approaches the model's batched forward; when idle a
 * request waits at most {@code maxWait}.
 *
 * <p>The queue is bounded: {@link #submit} refuses work when it is full, so callers can answer 503
 * instead of queueing without limit.
 */
public final class DynamicBatcher implements AutoCloseable {
  private record Pending(int[] tokens, CompletableFuture<LabeledSequence> result) {}

  private final Teacher teacher;
  private final int tokenBudget;
  private final long maxWaitNanos;
  private final BlockingQueue<Pending> queue;
  private final TeacherMetrics metrics;
  private final Thread worker;
  private volatile boolean running = true;

  public DynamicBatcher(
      Teacher teacher,
      int tokenBudget,
      Duration maxWait,
      int queueCapacity,
      TeacherMetrics metrics) {
    if (tokenBudget < 1 || queueCapacity < 1) {
      throw new IllegalArgumentException("tokenBudget and queueCapacity must be >= 1");
    }
    this.teacher = teacher;
    this.tokenBudget = tokenBudget;
    this.maxWaitNanos = maxWait.toNanos();
    this.queue = new ArrayBlockingQueue<>(queueCapacity);
    this.metrics = metrics;
    metrics.queueDepth(queue::size);
    this.worker = new Thread(this::loop, "teacher-batcher");
    worker.setDaemon(true);
    worker.start();
  }

  /**
   * Queues one sequence.
   *
   * @throws RejectedExecutionException when the queue is full or the batcher is closed
   */
  public CompletableFuture<LabeledSequence> submit(int[] tokens) {
    CompletableFuture<LabeledSequence> f = new CompletableFuture<>();
    if (!running || !queue.offer(new Pending(tokens, f))) {
      throw new RejectedExecutionException(running ? "teacher queue is full" : "shutting down");
    }
    return f;
  }

  public int queueDepth() {
    return queue.size();
  }

  public boolean running() {
    return running && worker.isAlive();
  }

  private void loop() {
    while (running || !queue.isEmpty()) {
      List<Pending> batch = new ArrayList<>();
      try {
        Pending first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        batch.add(first);
        long tokens = first.tokens().length;
        long deadline = System.nanoTime() + maxWaitNanos;
        while (tokens < tokenBudget) {
          long left = deadline - System.nanoTime();
          Pending next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
          if (next == null) {
            break;
          }
          batch.add(next);
          tokens += next.tokens().length;
        }
        run(batch, tokens);
      } catch (InterruptedException e) {
        for (Pending p : batch) {
          p.result().completeExceptionally(e);
        }
        Thread.currentThread().interrupt();
        break;
      }
    }
    Pending left;
    while ((left = queue.poll()) != null) {
      left.result().completeExceptionally(new RejectedExecutionException("shutting down"));
    }
  }

  private void run(List<Pending> batch, long tokens) {
    List<int[]> seqs = new ArrayList<>(batch.size());
    long positions = 0;
    for (Pending p : batch) {
      seqs.add(p.tokens());
      positions += p.tokens().length - 1;
    }
    long start = System.nanoTime();
    try {
      List<LabeledSequence> out = teacher.label(seqs);
      metrics.batch(batch.size(), tokens, positions, System.nanoTime() - start);
      for (int i = 0; i < batch.size(); i++) {
        batch.get(i).result().complete(out.get(i));
      }
    } catch (TeacherException | RuntimeException e) {
      if (batch.size() == 1) {
        batch.get(0).result().completeExceptionally(e);
        return;
      }
      // One bad request must not fail the others that happened to share its batch.
      for (Pending p : batch) {
        run(List.of(p), p.tokens().length);
      }
    }
  }

  /** Stops taking work, finishes what is queued, and waits for the worker. */
  @Override
  public void close() {
    running = false;
    try {
      worker.join(30_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
