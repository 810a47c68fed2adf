package dev.distill.spark.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link SocketAllReduce} with W workers as threads of this JVM over real loopback sockets; only
 * the rendezvous (Spark's barrier {@code allGather}) is played by a {@link CyclicBarrier}.
 */
class SocketAllReduceTest {
  private static final Duration SHORT = Duration.ofSeconds(20);

  /** allGather among threads: each message lands in its rank's slot, all wait for all. */
  static final class ThreadRendezvous {
    final String[] slots;
    final CyclicBarrier barrier;

    ThreadRendezvous(int world) {
      slots = new String[world];
      barrier = new CyclicBarrier(world);
    }

    SocketAllReduce.Rendezvous forRank(int rank) {
      return message -> {
        slots[rank] = message;
        try {
          barrier.await(30, TimeUnit.SECONDS);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        return slots.clone();
      };
    }
  }

  interface Body {
    float[][] run(SocketAllReduce r, int rank) throws Exception;
  }

  static List<float[][]> runWorkers(int world, Duration exchangeTimeout, Body body)
      throws Exception {
    ThreadRendezvous rv = new ThreadRendezvous(world);
    List<CompletableFuture<float[][]>> futures = new ArrayList<>();
    for (int r = 0; r < world; r++) {
      int rank = r;
      futures.add(
          CompletableFuture.supplyAsync(
              () -> {
                try (SocketAllReduce a =
                    SocketAllReduce.open(
                        rank, world, "127.0.0.1", rv.forRank(rank), SHORT, exchangeTimeout)) {
                  return body.run(a, rank);
                } catch (RuntimeException e) {
                  throw e;
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              },
              runnable -> {
                Thread t = new Thread(runnable);
                t.setDaemon(true);
                t.start();
              }));
    }
    List<float[][]> out = new ArrayList<>();
    for (CompletableFuture<float[][]> f : futures) {
      out.add(f.get(120, TimeUnit.SECONDS));
    }
    return out;
  }

  interface PeerFault {
    void act(SocketAllReduce a) throws Exception;
  }

  /** Worker 0 exchanges once; worker 1 does {@code fault} instead. */
  static List<float[][]> withFailingPeer(Duration exchangeTimeout, PeerFault fault)
      throws Exception {
    return runWorkers(
        2,
        exchangeTimeout,
        (a, rank) -> {
          if (rank == 1) {
            fault.act(a);
            return new float[0][];
          }
          return new float[][] {a.sum(new float[] {1f})};
        });
  }

  static float[] randomArray(int n, long seed) {
    Random random = new Random(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(7) - 3));
    }
    return a;
  }

  @Test
  void threeWorkersGetTheRankOrderFloatSumBitForBitOverRepeatedExchangesOfDifferentLengths()
      throws Exception {
    int world = 3;
    // 1.5M floats: 6 MB per message, far above the socket buffers (a send/receive deadlock shows)
    int[] lengths = {1, 7, 1_500_000, 3};
    List<float[][]> results =
        runWorkers(
            world,
            SHORT,
            (a, rank) -> {
              float[][] sums = new float[lengths.length][];
              for (int c = 0; c < lengths.length; c++) {
                sums[c] = a.sum(randomArray(lengths[c], 100L * c + rank));
              }
              assertThat(a.bytesSent()).isEqualTo((world - 1) * 4L * (1 + 7 + 1_500_000 + 3));
              return sums;
            });
    for (int c = 0; c < lengths.length; c++) {
      float[] expected = new float[lengths[c]];
      for (int r = 0; r < world; r++) { // rank order, float32, as the contract says
        float[] x = randomArray(lengths[c], 100L * c + r);
        for (int i = 0; i < expected.length; i++) {
          expected[i] += x[i];
        }
      }
      for (int r = 0; r < world; r++) {
        // bit for bit (AssertJ's containsExactly is quadratic on a mismatch of 1.5M elements)
        assertThat(firstDifference(results.get(r)[c], expected))
            .as("first index where call %d of worker %d differs from the rank-order sum", c, r)
            .isEqualTo(-1);
      }
    }
  }

  /** The first index whose float bits differ, -1 when none (also -1 only for equal lengths). */
  static int firstDifference(float[] a, float[] b) {
    if (a.length != b.length) {
      return Math.min(a.length, b.length);
    }
    for (int i = 0; i < a.length; i++) {
      if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
        return i;
      }
    }
    return -1;
  }

  @Test
  void oneWorkerAloneReturnsItsOwnArrayWithoutSending() throws Exception {
    List<float[][]> r =
        runWorkers(
            1,
            SHORT,
            (a, rank) -> {
              float[][] out = {a.sum(new float[] {1.5f, -2f})};
              assertThat(a.bytesSent()).isZero();
              return out;
            });
    assertThat(r.get(0)[0]).containsExactly(1.5f, -2f);
  }

  @Test
  void arraysOfDifferentLengthsFailNamingThePeer() {
    assertThatThrownBy(
            () -> runWorkers(2, SHORT, (a, rank) -> new float[][] {a.sum(new float[2 + rank])}))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .hasMessageContaining("sent 3 floats, this worker 2")
        .hasMessageContaining("worker 1 at 127.0.0.1:");
  }

  @Test
  void aPeerThatNeverExchangesTimesOutWithItsRankAndAddress() {
    assertThatThrownBy(
            () ->
                withFailingPeer(
                    Duration.ofMillis(500), a -> Thread.sleep(3000))) // hung: never calls sum
        .isInstanceOf(ExecutionException.class)
        .cause()
        .hasMessageContaining("all-reduce worker 0: no exchange with worker 1 at 127.0.0.1:")
        .hasMessageContaining("within PT0.5S");
  }

  @Test
  void aPeerThatDiesFailsTheExchangeAtOnceNamingIt() {
    long t0 = System.nanoTime();
    assertThatThrownBy(
            () ->
                withFailingPeer(
                    Duration.ofMinutes(5),
                    SocketAllReduce::close)) // its JVM is gone: sockets closed
        .isInstanceOf(ExecutionException.class)
        .cause()
        // end of stream or a reset, depending on timing: either way the peer is named
        .hasMessageContaining("all-reduce worker 0: exchange with worker 1 at 127.0.0.1:");
    assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.MINUTES.toNanos(1));
  }

  @Test
  void aStrangerConnectingToAWorkerIsDroppedAndTheWorkersStillConnect() throws Exception {
    ThreadRendezvous rv = new ThreadRendezvous(2);
    String[] seen = new String[2];
    SocketAllReduce.Rendezvous intercept =
        message -> {
          String[] all = rv.forRank(0).allGather(message);
          seen[0] = all[0];
          // A stray client with the wrong token connects to rank 0 before rank 1 does.
          String hostPort = all[0].substring(all[0].indexOf('@') + 1);
          try (Socket s = new Socket()) {
            s.connect(
                new InetSocketAddress(
                    "127.0.0.1", Integer.parseInt(hostPort.substring(hostPort.indexOf(':') + 1))));
            s.getOutputStream().write(new byte[16]);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
          return all;
        };
    CompletableFuture<float[]> w1 =
        CompletableFuture.supplyAsync(
            () -> {
              try (SocketAllReduce a =
                  SocketAllReduce.open(1, 2, "127.0.0.1", rv.forRank(1), SHORT, SHORT)) {
                return a.sum(new float[] {2f});
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    try (SocketAllReduce a = SocketAllReduce.open(0, 2, "127.0.0.1", intercept, SHORT, SHORT)) {
      assertThat(a.sum(new float[] {1f})).containsExactly(3f);
    }
    assertThat(w1.get(60, TimeUnit.SECONDS)).containsExactly(3f);
    assertThat(seen[0]).contains("@127.0.0.1:");
  }
}
