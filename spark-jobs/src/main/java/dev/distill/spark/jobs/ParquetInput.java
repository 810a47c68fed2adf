package dev.distill.spark.jobs;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The Parquet files of an input folder, found the way data that moves needs (issue 14).
 *
 * <p>A folder written by Spark's streaming file sink (IngestJob) holds {@code _spark_metadata}, a
 * log of the committed files by <em>absolute</em> path; files not in the log (a failed batch's)
 * must not be read. When the folder is copied or moved ({@code cp -r}, HDFS to an object store),
 * the log still names the old place, and Spark's own reader then fails with {@code
 * UNABLE_TO_INFER_SCHEMA} or reads the old place. So:
 *
 * <ul>
 *   <li>the log's live files (adds minus deletes, from the last {@code .compact} file on) are read
 *       at their logged paths when every one exists inside the folder;
 *   <li>otherwise every logged file must be in the folder under its own name: those files are read
 *       (files the log does not name are not) and a warning says so;
 *   <li>otherwise the job refuses, naming the missing files and the fixes;
 *   <li>a folder without a log: its Parquet files (hidden and {@code _} names skipped); none is an
 *       error that says so, not Spark's {@code UNABLE_TO_INFER_SCHEMA}.
 * </ul>
 *
 * @param dir the folder as given
 * @param files the files to read, fully qualified
 * @param bytes their total size
 * @param warnings what was done differently from a plain read (empty when nothing)
 */
record ParquetInput(String dir, List<String> files, long bytes, List<String> warnings) {
  static final String LOG_DIR = "_spark_metadata";
  private static final Pattern PATH =
      Pattern.compile("\"path\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
  private static final Pattern ACTION = Pattern.compile("\"action\"\\s*:\\s*\"([a-z]+)\"");

  /** Finds the files of {@code dir}; throws {@link JobFailedException} with the fix when none. */
  public static ParquetInput resolve(Configuration hadoop, String what, String dir) {
    try {
      Path root = new Path(dir);
      FileSystem fs = root.getFileSystem(hadoop);
      if (!fs.exists(root)) {
        throw new JobFailedException(
            what
                + " "
                + dir
                + " does not exist: check the path (it must be the folder that"
                + " IngestJob or teacher-service wrote).");
      }
      Path qualified = fs.makeQualified(root);
      Map<String, FileStatus> local = new TreeMap<>();
      collect(fs, qualified, local);
      Path log = new Path(qualified, LOG_DIR);
      if (!fs.exists(log)) {
        if (local.isEmpty()) {
          throw new JobFailedException(
              "no Parquet files in " + dir + ": point " + what + " at the folder holding them.");
        }
        return of(dir, new ArrayList<>(local.values()), List.of());
      }
      List<String> logged = liveFiles(fs, log);
      if (logged.isEmpty()) {
        throw new JobFailedException(
            "no Parquet files in "
                + dir
                + ": its "
                + LOG_DIR
                + " log lists none (no batch committed yet): run IngestJob until it has"
                + " committed data, then curate.");
      }
      List<FileStatus> atLoggedPaths = new ArrayList<>();
      boolean allInside = true;
      for (String p : logged) {
        Path lp = new Path(p);
        FileSystem lfs = lp.getFileSystem(hadoop);
        if (!isUnder(lfs.makeQualified(lp), qualified) || !lfs.exists(lp)) {
          allInside = false;
          break;
        }
        atLoggedPaths.add(lfs.getFileStatus(lp));
      }
      if (allInside) {
        return of(dir, atLoggedPaths, List.of());
      }
      Map<String, FileStatus> byName = new LinkedHashMap<>();
      for (FileStatus s : local.values()) {
        byName.putIfAbsent(s.getPath().getName(), s);
      }
      List<FileStatus> chosen = new ArrayList<>();
      List<String> missing = new ArrayList<>();
      Set<String> loggedNames = new LinkedHashSet<>();
      for (String p : logged) {
        String name = new Path(p).getName();
        loggedNames.add(name);
        FileStatus s = byName.get(name);
        if (s == null) {
          missing.add(name);
        } else {
          chosen.add(s);
        }
      }
      String loggedDir = new Path(logged.get(0)).getParent().toString();
      if (!missing.isEmpty()) {
        throw new JobFailedException(
            dir
                + " was copied or moved without all of its files: its "
                + LOG_DIR
                + " log names "
                + logged.size()
                + " Parquet files under "
                + loggedDir
                + ", and "
                + missing.size()
                + " of them (e.g. "
                + missing.get(0)
                + ") are neither there nor in "
                + dir
                + ": copy the whole folder again, or delete "
                + dir
                + "/"
                + LOG_DIR
                + " to read just the Parquet files it holds.");
      }
      int extra = local.size() - chosen.size();
      String warning =
          dir
              + " was copied or moved: its "
              + LOG_DIR
              + " log names "
              + logged.size()
              + " files under "
              + loggedDir
              + "; reading the "
              + chosen.size()
              + " files of the same names in "
              + dir
              + " instead"
              + (extra > 0
                  ? " (and ignoring " + extra + " files the log does not list: failed batches)"
                  : "")
              + ".";
      return of(dir, chosen, List.of(warning));
    } catch (IOException e) {
      throw new JobFailedException(
          "cannot list "
              + what
              + " "
              + dir
              + " ("
              + e.getMessage()
              + "): check the path and its"
              + " permissions.",
          e);
    }
  }

  private static ParquetInput of(String dir, List<FileStatus> files, List<String> warnings) {
    List<String> paths = new ArrayList<>();
    long bytes = 0;
    for (FileStatus s : files) {
      paths.add(s.getPath().toString());
      bytes += s.getLen();
    }
    return new ParquetInput(dir, List.copyOf(paths), bytes, List.copyOf(warnings));
  }

  private static boolean isUnder(Path file, Path dir) {
    for (Path p = file.getParent(); p != null; p = p.getParent()) {
      if (p.equals(dir)) {
        return true;
      }
    }
    return false;
  }

  /** Data files under {@code dir}, recursively, skipping names that start with '_' or '.'. */
  private static void collect(FileSystem fs, Path dir, Map<String, FileStatus> out)
      throws IOException {
    RemoteIterator<FileStatus> it = fs.listStatusIterator(dir);
    while (it.hasNext()) {
      FileStatus s = it.next();
      String name = s.getPath().getName();
      if (name.startsWith("_") || name.startsWith(".")) {
        continue;
      }
      if (s.isDirectory()) {
        collect(fs, s.getPath(), out);
      } else if (s.getLen() > 0 || name.endsWith(".parquet")) {
        out.put(s.getPath().toString(), s);
      }
    }
  }

  /** The files a streaming sink log holds now: from the last compact batch, adds minus deletes. */
  static List<String> liveFiles(FileSystem fs, Path log) throws IOException {
    TreeMap<Long, Path> batches = new TreeMap<>();
    long lastCompact = -1;
    for (FileStatus s : fs.listStatus(log)) {
      String name = s.getPath().getName();
      Matcher m = Pattern.compile("(\\d+)(\\.compact)?").matcher(name);
      if (!s.isFile() || !m.matches()) {
        continue;
      }
      long id = Long.parseLong(m.group(1));
      batches.put(id, s.getPath());
      if (m.group(2) != null) {
        lastCompact = Math.max(lastCompact, id);
      }
    }
    Set<String> live = new LinkedHashSet<>();
    for (Map.Entry<Long, Path> b : batches.entrySet()) {
      if (b.getKey() < lastCompact) {
        continue;
      }
      try (BufferedReader r =
          new BufferedReader(
              new InputStreamReader(fs.open(b.getValue()), StandardCharsets.UTF_8))) {
        String line = r.readLine(); // version line, "v1"
        while ((line = r.readLine()) != null) {
          Matcher pm = PATH.matcher(line);
          if (!pm.find()) {
            continue;
          }
          String path = pm.group(1).replace("\\/", "/").replace("\\\"", "\"").replace("\\\\", "\\");
          Matcher am = ACTION.matcher(line);
          if (am.find() && am.group(1).equals("delete")) {
            live.remove(path);
          } else {
            live.add(path);
          }
        }
      }
    }
    return new ArrayList<>(live);
  }

  /** Spark lists more root paths than this in a Spark job of its own. */
  static final String LISTING_THRESHOLD = "spark.sql.sources.parallelPartitionDiscovery.threshold";

  /**
   * Reads the files (partition folders under {@link #dir} still give their columns).
   *
   * <p>Spark lists the paths it is given again; with more of them than {@value #LISTING_THRESHOLD}
   * (default 32) it does so in a Spark job. {@link #resolve} has just listed these files on the
   * driver, so the job is pure waste: the threshold is raised to the file count while the reader
   * resolves them (the listing is eager) and restored after (issue 14: the 11th Spark job of a
   * 2,000,000-record curation, 100 input files, against 10 jobs at 200,000 records and 10 files).
   */
  public Dataset<Row> read(SparkSession spark) {
    org.apache.spark.sql.RuntimeConfig conf = spark.conf();
    String before = conf.contains(LISTING_THRESHOLD) ? conf.get(LISTING_THRESHOLD) : null;
    int threshold = Integer.parseInt(conf.get(LISTING_THRESHOLD, "32"));
    if (files.size() > threshold) {
      conf.set(LISTING_THRESHOLD, Integer.toString(files.size()));
    }
    try {
      return spark.read().option("basePath", dir).parquet(files.toArray(new String[0]));
    } finally {
      if (before == null) {
        conf.unset(LISTING_THRESHOLD);
      } else {
        conf.set(LISTING_THRESHOLD, before);
      }
    }
  }
}
