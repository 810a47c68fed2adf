package dev.distill.teacher;

import dev.distill.teacher.http.TeacherHttpServer;
import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lifecycle of {@code serve}: start the HTTP API and the Kafka loop's thread, print {@code
 * ready}, wait for a stop (SIGTERM / Ctrl-C through {@link #shutdownHook()}, or the loop ending by
 * itself), then stop gracefully: the HTTP server drains (new teacher work 503, admitted requests
 * finish, {@link TeacherHttpServer#close()}), the loop finishes its current batch and its
 * transaction, and {@code stopped} is printed. The shutdown hook holds the JVM until the owner
 * calls {@link #finished()} (after the teacher is closed too), so a SIGTERM never cuts a
 * transaction in half.
 *
 * <p>Use: {@code start()}, register {@code shutdownHook()}, {@code awaitStop()}, close what the
 * service used, then {@code finished()} in a {@code finally}.
 */
final class ServeLifecycle {
  private static final Logger LOG = LoggerFactory.getLogger(ServeLifecycle.class);

  /** A background loop that stops when asked (the Kafka {@code PromptServiceLoop}). */
  interface Loop extends Runnable {
    void requestStop();

    /** A loop made of its body and its stop request. */
    static Loop of(Runnable body, Runnable stop) {
      return new Loop() {
        @Override
        public void run() {
          body.run();
        }

        @Override
        public void requestStop() {
          stop.run();
        }
      };
    }
  }

  private final TeacherHttpServer http;
  private final Loop loop;
  private final Duration stopTimeout;
  private final PrintStream out;
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CountDownLatch finished = new CountDownLatch(1);
  private Thread loopThread;
  private volatile RuntimeException loopFailure;

  /**
   * @param http the HTTP API, not yet started; null for none
   * @param loop the Kafka loop, not yet running; null for none
   * @param stopTimeout longest wait for the loop to stop, and of the shutdown hook for {@link
   *     #finished()}
   * @param out where {@code http URI}, {@code ready} and {@code stopped} are printed
   */
  ServeLifecycle(TeacherHttpServer http, Loop loop, Duration stopTimeout, PrintStream out) {
    if (http == null && loop == null) {
      throw new IllegalArgumentException("nothing to serve: no HTTP API and no Kafka loop");
    }
    this.http = http;
    this.loop = loop;
    this.stopTimeout = stopTimeout;
    this.out = out;
  }

  /**
   * Starts the HTTP API (prints {@code http URI}) and the loop thread, then prints {@code ready}.
   */
  void start() {
    if (http != null) {
      http.start();
      out.println("http " + http.baseUri());
    }
    if (loop != null) {
      loopThread =
          new Thread(
              () -> {
                try {
                  loop.run();
                } catch (RuntimeException e) {
                  loopFailure = e;
                  LOG.error("service loop failed", e);
                } finally {
                  // A loop that ends by itself (or fails) stops the service too.
                  stopRequested.countDown();
                }
              },
              "service-loop");
      loopThread.start();
    }
    out.println("ready");
  }

  /** Asks the loop to finish its batch and {@link #awaitStop()} to return. */
  void requestStop() {
    if (loop != null) {
      loop.requestStop();
    }
    stopRequested.countDown();
  }

  /**
   * Blocks until a stop is requested or the loop ends, then stops the HTTP API (graceful drain) and
   * waits for the loop thread. 0 after a clean stop (prints {@code stopped}); 1 when the loop
   * failed or did not stop within the timeout.
   */
  int awaitStop() throws InterruptedException {
    stopRequested.await();
    if (http != null) {
      http.close();
    }
    if (loopThread != null) {
      loopThread.join(stopTimeout.toMillis());
      if (loopThread.isAlive()) {
        out.println("the service loop did not stop within " + stopTimeout.toSeconds() + " s");
        return 1;
      }
      if (loopFailure != null) {
        out.println("the service loop failed: " + loopFailure.getMessage());
        return 1;
      }
    }
    out.println("stopped");
    return 0;
  }

  /** Everything the service used is closed: lets the shutdown hook, and so the JVM, finish. */
  void finished() {
    finished.countDown();
  }

  /**
   * For {@link Runtime#addShutdownHook}: requests the stop, then waits for the loop thread and for
   * {@link #finished()} (each up to the stop timeout).
   */
  Thread shutdownHook() {
    return new Thread(
        () -> {
          requestStop();
          try {
            if (loopThread != null) {
              loopThread.join(stopTimeout.toMillis());
            }
            finished.await(stopTimeout.toMillis(), TimeUnit.MILLISECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        },
        "teacher-shutdown");
  }
}
