package dev.distill.trainer.distributed;

import ai.djl.ndarray.NDManager;
import dev.distill.trainer.training.ResumableAdamW;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The per-worker state of a DiLoCo run that a {@code TrainingCheckpoints} checkpoint (written by
 * rank 0 alone) does not hold: DiLoCo (arXiv:2311.08105, Algorithm 1) keeps each worker's inner
 * AdamW moments local, and the outer Nesterov velocity and outer step count are the outer
 * optimiser's state. Without them a resume restarts the velocity at zero and gives every worker
 * rank 0's moments, which is another run.
 *
 * <p>One file per worker and checkpoint step, beside the checkpoint folders: {@code
 * diloco-step-00000004-rank-1.bin} = magic, sha256 of the payload, payload length, payload (step,
 * rank, world size, outer state, this worker's AdamW state). Written to a temporary file and
 * renamed into place; every worker writes its file before rank 0 writes the checkpoint folder (a
 * rendezvous in between), so a verified checkpoint always has its workers' files.
 */
final class DiLoCoCheckpoints {
  private static final int MAGIC = 0x44694c6f; // "DiLo"
  private static final Pattern NAME = Pattern.compile("diloco-step-(\\d{8})-rank-\\d+\\.bin");

  private DiLoCoCheckpoints() {}

  /** The file of worker {@code rank}'s state after {@code step} steps. */
  static Path file(Path root, int step, int rank) {
    return root.resolve(String.format(Locale.ROOT, "diloco-step-%08d-rank-%d.bin", step, rank));
  }

  /** Writes worker {@code rank}'s outer and inner optimiser state after {@code step} steps. */
  static void write(
      Path root,
      int step,
      int rank,
      int world,
      DiLoCoOuterStep outer,
      ResumableAdamW inner,
      Map<String, String> names)
      throws IOException {
    ByteArrayOutputStream payload = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(payload)) {
      out.writeInt(step);
      out.writeInt(rank);
      out.writeInt(world);
      outer.save(out);
      inner.save(out, names);
    }
    byte[] bytes = payload.toByteArray();
    Files.createDirectories(root);
    Path target = file(root, step, rank);
    Path tmp = root.resolve("." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid());
    try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(tmp))) {
      out.writeInt(MAGIC);
      out.write(sha256(bytes));
      out.writeInt(bytes.length);
      out.write(bytes);
    }
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /**
   * Fails, naming the first missing file, unless every worker's state after {@code step} steps is
   * in {@code root}. Each worker checks all ranks before any of them reads or exchanges, so every
   * worker fails with the same sentence and Spark reports it whichever task fails first (else a
   * peer's dropped connection could be reported instead).
   */
  static void requireAll(Path root, int step, int world) throws IOException {
    for (int r = 0; r < world; r++) {
      Path f = file(root, step, r);
      if (!Files.isRegularFile(f)) {
        throw missing(f, step, null);
      }
    }
  }

  private static IOException missing(Path f, int step, Throwable cause) {
    return new IOException(
        "DiLoCo worker state "
            + f
            + " is missing: the checkpoint of step "
            + step
            + " cannot be resumed with train.spark.sync = diloco",
        cause);
  }

  /**
   * Loads worker {@code rank}'s state after {@code step} steps into {@code outer} and {@code inner}
   * (arrays in {@code manager}).
   *
   * @throws IOException naming the file when it is missing, damaged, or of another step, rank or
   *     world size
   */
  static void read(
      Path root,
      int step,
      int rank,
      int world,
      DiLoCoOuterStep outer,
      ResumableAdamW inner,
      Map<String, String> names,
      NDManager manager)
      throws IOException {
    Path f = file(root, step, rank);
    byte[] all;
    try {
      all = Files.readAllBytes(f);
    } catch (NoSuchFileException e) {
      throw missing(f, step, e);
    }
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(all))) {
      if (all.length < 40 || in.readInt() != MAGIC) {
        throw new IOException("not DiLoCo worker state (bad magic)");
      }
      byte[] digest = in.readNBytes(32);
      int n = in.readInt();
      if (n != all.length - 40) {
        throw new IOException("payload of " + (all.length - 40) + " bytes, header says " + n);
      }
      byte[] bytes = Arrays.copyOfRange(all, 40, all.length);
      if (!MessageDigest.isEqual(digest, sha256(bytes))) {
        throw new IOException("sha256 mismatch (damaged file)");
      }
      DataInputStream p = new DataInputStream(new ByteArrayInputStream(bytes));
      int s = p.readInt();
      int r = p.readInt();
      int w = p.readInt();
      if (s != step || r != rank || w != world) {
        throw new IOException(
            String.format(
                Locale.ROOT,
                "state of step %d, rank %d of %d, expected step %d, rank %d of %d",
                s,
                r,
                w,
                step,
                rank,
                world));
      }
      outer.load(p);
      inner.load(p, names, manager);
    } catch (IOException e) {
      throw new IOException("DiLoCo worker state " + f + " is unusable: " + e.getMessage(), e);
    }
  }

  /** Deletes the worker files of steps before {@code oldestKept} (checkpoints already pruned). */
  static void prune(Path root, int oldestKept) throws IOException {
    List<Path> old;
    try (Stream<Path> s = Files.list(root)) {
      old =
          s.filter(
                  p -> {
                    Matcher m = NAME.matcher(p.getFileName().toString());
                    return m.matches() && Integer.parseInt(m.group(1)) < oldestKept;
                  })
              .toList();
    }
    for (Path p : old) {
      Files.deleteIfExists(p);
    }
  }

  private static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 missing from this JVM", e);
    }
  }
}
