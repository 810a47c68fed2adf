package dev.distill.spark.training;

import dev.distill.training.spi.AllReduce;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@link AllReduce} over plain TCP among the barrier tasks, the barrier only as the rendezvous
 * (what PyTorch's TorchDistributor does on Spark): each task listens on an ephemeral port of its
 * executor's host, one {@code allGather} publishes every task's {@code token@host:port}, and every
 * exchange after that goes straight from task to task, never through the driver. Spark's barrier
 * {@code allGather} answers by polling once per second (about 1 s per call, measured in
 * deploy/README.md), which this transport avoids for every call after the first.
 *
 * <p>Topology: a full mesh, all-to-all. Worker r connects to every lower rank and accepts every
 * higher one, once per stage attempt. In an exchange every worker sends its whole array (4-byte
 * little-endian length n, then n little-endian float32) to each of the W - 1 others and receives
 * theirs, then sums the W arrays in rank order 0, 1, ..., W - 1, so every worker computes the same
 * float additions in the same order and gets a bit-identical result. Bytes sent per worker per
 * exchange: (W - 1) x 4n (+ 4 per peer); a ring all-reduce would send 2 (W - 1) / W x 4n, which is
 * the same for W = 2 and what larger W would want (deploy/README.md, "On paper").
 *
 * <p>Every peer address comes from the rendezvous, and a connecting worker proves it belongs to
 * this stage attempt with the acceptor's 64-bit random token; anything else that connects is
 * dropped. A stage attempt retried by Spark runs the task body again, hence a new rendezvous, new
 * ports and new tokens. Timeouts (connection setup, and each exchange as a whole) fail the task
 * with the peer's rank and address; a peer that dies shows up as end-of-stream at once. Blocking
 * channel I/O is interruptible, so a task that Spark kills does not hang in a read.
 */
final class SocketAllReduce implements AllReduce, AutoCloseable {
  /** Publishes one message per worker and returns every worker's, in rank order. */
  interface Rendezvous {
    String[] allGather(String message);
  }

  private static final int HELLO = 0x44495354; // "DIST"
  private static final SecureRandom RANDOM = new SecureRandom();

  private final int rank;
  private final int world;
  private final String[] addresses;
  private final SocketChannel[] peers;
  private final ServerSocketChannel server;
  private final Duration exchangeTimeout;
  private final ExecutorService writers;
  private final ScheduledExecutorService watchdog;
  private final ByteBuffer[] received;
  private ByteBuffer outgoing;
  private long sent;

  private SocketAllReduce(
      int rank,
      int world,
      String[] addresses,
      ServerSocketChannel server,
      Duration exchangeTimeout) {
    this.rank = rank;
    this.world = world;
    this.addresses = addresses;
    this.server = server;
    this.exchangeTimeout = exchangeTimeout;
    this.peers = new SocketChannel[world];
    this.received = new ByteBuffer[world];
    this.writers =
        world > 1
            ? Executors.newFixedThreadPool(world - 1, daemon("distill-allreduce-send-" + rank))
            : null;
    this.watchdog =
        Executors.newSingleThreadScheduledExecutor(daemon("distill-allreduce-watchdog-" + rank));
  }

  /**
   * Listens on {@code host}, publishes its address through {@code rendezvous}, and connects to
   * every other worker. Closes everything it opened if any of that fails.
   *
   * @param host this worker's host as the cluster knows it (the executor's address)
   * @param connectTimeout for the whole connection setup after the rendezvous
   * @param exchangeTimeout for one {@link #sum} call, waiting for the slowest worker included
   */
  static SocketAllReduce open(
      int rank,
      int world,
      String host,
      Rendezvous rendezvous,
      Duration connectTimeout,
      Duration exchangeTimeout)
      throws IOException {
    if (world < 1 || rank < 0 || rank >= world) {
      throw new IllegalArgumentException("rank " + rank + " outside world of size " + world);
    }
    ServerSocketChannel server = ServerSocketChannel.open();
    SocketAllReduce r = null;
    try {
      try {
        server.bind(new InetSocketAddress(host, 0), world);
      } catch (IOException e) {
        throw new IOException(
            "all-reduce worker " + rank + ": cannot listen on host '" + host + "': " + e, e);
      }
      long token = RANDOM.nextLong();
      String own = Long.toHexString(token) + "@" + host + ":" + server.socket().getLocalPort();
      String[] all = rendezvous.allGather(own);
      if (all.length != world) {
        throw new IllegalStateException(
            "all-reduce rendezvous returned "
                + all.length
                + " addresses for "
                + world
                + " workers");
      }
      r = new SocketAllReduce(rank, world, all, server, exchangeTimeout);
      r.connect(connectTimeout);
      return r;
    } catch (IOException | RuntimeException e) {
      if (r != null) {
        r.close();
      } else {
        server.close();
      }
      throw e;
    }
  }

  private void connect(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int millis = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
    for (int peer = 0; peer < rank; peer++) {
      InetSocketAddress at = address(peer);
      SocketChannel ch = SocketChannel.open();
      peers[peer] = ch;
      try {
        ch.socket().connect(at, millis);
      } catch (IOException e) {
        throw new IOException(
            "all-reduce worker " + rank + ": cannot connect to " + peerName(peer) + ": " + e, e);
      }
      configure(ch);
      ByteBuffer hello = ByteBuffer.allocate(16);
      hello.putInt(HELLO).putInt(rank).putLong(token(peer)).flip();
      writeFully(ch, hello);
    }
    // Accept the higher ranks; whatever else connects (a stray client, a late worker of an older
    // stage attempt) is closed and does not count.
    int missing = world - 1 - rank;
    long ownToken = token(rank);
    while (missing > 0) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw acceptTimeout(timeout, null);
      }
      server.socket().setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      Socket s;
      try {
        s = server.socket().accept();
      } catch (SocketTimeoutException e) {
        throw acceptTimeout(timeout, e);
      }
      SocketChannel ch = s.getChannel();
      boolean kept = false;
      try {
        s.setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        byte[] b = s.getInputStream().readNBytes(16);
        ByteBuffer hello = ByteBuffer.wrap(b);
        if (b.length == 16 && hello.getInt() == HELLO) {
          int from = hello.getInt();
          long proof = hello.getLong();
          if (from > rank && from < world && proof == ownToken && peers[from] == null) {
            s.setSoTimeout(0);
            configure(ch);
            peers[from] = ch;
            missing--;
            kept = true;
          }
        }
      } catch (IOException e) {
        // a client that does not complete the handshake is not one of ours
      } finally {
        if (!kept) {
          ch.close();
        }
      }
    }
  }

  private IOException acceptTimeout(Duration timeout, Exception cause) {
    return new IOException(
        "all-reduce worker " + rank + ": timed out after " + timeout + " waiting for " + waiting(),
        cause);
  }

  private String waiting() {
    StringBuilder b = new StringBuilder();
    for (int p = rank + 1; p < world; p++) {
      if (peers[p] == null) {
        b.append(b.length() == 0 ? "" : ", ").append(peerName(p));
      }
    }
    return b.toString();
  }

  private static void configure(SocketChannel ch) throws IOException {
    ch.configureBlocking(true);
    ch.socket().setTcpNoDelay(true);
  }

  @Override
  public float[] sum(float[] local) {
    int n = local.length;
    if (world == 1) {
      return local.clone();
    }
    if (outgoing == null || outgoing.capacity() < 4 + 4 * n) {
      outgoing = ByteBuffer.allocateDirect(4 + 4 * n).order(ByteOrder.LITTLE_ENDIAN);
    }
    outgoing.clear();
    outgoing.putInt(n);
    outgoing.asFloatBuffer().put(local);
    outgoing.position(0).limit(4 + 4 * n);

    AtomicBoolean timedOut = new AtomicBoolean();
    int[] current = {-1};
    ScheduledFuture<?> alarm =
        watchdog.schedule(
            () -> {
              timedOut.set(true);
              closePeers();
            },
            exchangeTimeout.toNanos(),
            TimeUnit.NANOSECONDS);
    List<Future<?>> sends = new ArrayList<>(world - 1);
    try {
      for (int p = 0; p < world; p++) {
        if (p != rank) {
          SocketChannel ch = peers[p];
          ByteBuffer mine = outgoing.duplicate();
          sends.add(
              writers.submit(
                  () -> {
                    writeFully(ch, mine);
                    return null;
                  }));
        }
      }
      // Receive in rank order while the sends run on their own threads (no deadlock when arrays
      // exceed the socket buffers).
      float[][] arrays = new float[world][];
      for (int p = 0; p < world; p++) {
        if (p == rank) {
          arrays[p] = local;
          continue;
        }
        current[0] = p;
        ByteBuffer len = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        readFully(peers[p], len, p);
        int m = len.flip().getInt();
        if (m != n) {
          throw new IllegalStateException(
              "all-reduce worker "
                  + rank
                  + ": "
                  + peerName(p)
                  + " sent "
                  + m
                  + " floats, this worker "
                  + n
                  + ": every worker must sum arrays of the same length");
        }
        if (received[p] == null || received[p].capacity() < 4 * n) {
          received[p] = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        }
        ByteBuffer in = received[p];
        in.clear().limit(4 * n);
        readFully(peers[p], in, p);
        in.flip();
        arrays[p] = new float[n];
        in.asFloatBuffer().get(arrays[p]);
      }
      for (int i = 0; i < sends.size(); i++) {
        int p = i < rank ? i : i + 1;
        current[0] = p;
        try {
          sends.get(i).get();
        } catch (ExecutionException e) {
          throw failure(p, e.getCause(), timedOut.get());
        }
      }
      // The same additions in the same order on every worker: bit-identical sums.
      float[] out = new float[n];
      for (float[] a : arrays) {
        for (int i = 0; i < n; i++) {
          out[i] += a[i];
        }
      }
      sent += (long) (world - 1) * 4L * n;
      return out;
    } catch (IOException e) {
      throw failure(current[0], e, timedOut.get());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("all-reduce worker " + rank + ": interrupted", e);
    } finally {
      alarm.cancel(false);
      for (Future<?> f : sends) {
        f.cancel(true);
      }
    }
  }

  private RuntimeException failure(int peer, Throwable cause, boolean timedOut) {
    String who = peer >= 0 ? peerName(peer) : "its peers";
    if (timedOut) {
      return new IllegalStateException(
          "all-reduce worker "
              + rank
              + ": no exchange with "
              + who
              + " within "
              + exchangeTimeout
              + " (slow or hung worker)",
          cause);
    }
    return new IllegalStateException(
        "all-reduce worker " + rank + ": exchange with " + who + " failed: " + cause, cause);
  }

  @Override
  public long bytesSent() {
    return sent;
  }

  /** "worker 1 at 10.0.0.2:41234". */
  String peerName(int peer) {
    String a = addresses[peer];
    return "worker " + peer + " at " + a.substring(a.indexOf('@') + 1);
  }

  private InetSocketAddress address(int peer) {
    String a = addresses[peer];
    String hostPort = a.substring(a.indexOf('@') + 1);
    int colon = hostPort.lastIndexOf(':');
    return new InetSocketAddress(
        hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
  }

  private long token(int peer) {
    String a = addresses[peer];
    return Long.parseUnsignedLong(a.substring(0, a.indexOf('@')), 16);
  }

  private void closePeers() {
    for (SocketChannel ch : peers) {
      if (ch != null) {
        try {
          ch.close();
        } catch (IOException e) {
          // closing to fail the exchange: nothing else to do
        }
      }
    }
  }

  private static void writeFully(SocketChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }

  private void readFully(SocketChannel ch, ByteBuffer b, int peer) throws IOException {
    while (b.hasRemaining()) {
      if (ch.read(b) < 0) {
        throw new IOException(
            "connection closed by " + peerName(peer) + " (its worker failed or was killed?)");
      }
    }
  }

  @Override
  public void close() {
    closePeers();
    try {
      server.close();
    } catch (IOException e) {
      // nothing to do
    }
    if (writers != null) {
      writers.shutdownNow();
    }
    watchdog.shutdownNow();
  }

  private static ThreadFactory daemon(String name) {
    return runnable -> {
      Thread t = new Thread(runnable, name);
      t.setDaemon(true);
      return t;
    };
  }
}
