package dev.distill.deploy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class DistillCliTest {

  private record Result(int code, String out, String err) {}

  private static Result run(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      int code = DistillCli.execute(args);
      return new Result(
          code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  @Test
  void helpListsTheDemoAndExitsZero() {
    Result r = run("--help");
    assertThat(r.code()).isZero();
    assertThat(r.out()).contains("demo");
  }

  @Test
  void everySubcommandHasHelp() {
    Result r = run("demo", "--help");
    assertThat(r.code()).isZero();
    assertThat(r.out()).contains("--quick", "--bootstrap-servers", "--run-id");
  }

  @Test
  void serveAndLabelAreTeacherServiceCommandsWithTheirOwnHelp() {
    Result serve = run("serve", "--help");
    assertThat(serve.code()).isZero();
    assertThat(serve.out())
        .contains("distill serve", "--checkpoint", "--http-port", "--bootstrap-servers");
    Result label = run("label", "--help");
    assertThat(label.code()).isZero();
    assertThat(label.out()).contains("distill label", "--input", "--output", "--run-id");
    assertThat(run("--help").out()).contains("serve", "label");
  }

  @Test
  void ingestAndCurateShowTheSparkJobsOwnUsage() {
    Result curate = run("curate", "--help");
    assertThat(curate.code()).isZero();
    assertThat(curate.out())
        .contains("--master", "usage: CurateJob", "--input=DIR", "--output=DIR");
    Result fuse = run("fuse", "--help");
    assertThat(fuse.code()).isZero();
    assertThat(fuse.out()).contains("--master", "usage: FuseJob", "--teacher=RAW_DIR=WEIGHT");
    Result ingest = run("ingest", "--help");
    assertThat(ingest.code()).isZero();
    assertThat(ingest.out()).contains("usage: IngestJob", "--bootstrap-servers=HOST:PORT");
  }

  @Test
  void curateHandsEveryOtherArgumentToTheJobInOrder() {
    CommandLine cli = new CommandLine(new DistillCli());
    CommandLine.ParseResult r =
        cli.parseArgs(
            "curate", "--input", "in", "--filter=mean_entropy<=q0.99", "--master", "local[2]");
    SparkJobCommand cmd = (SparkJobCommand) r.subcommand().commandSpec().userObject();
    assertThat(cmd.master).isEqualTo("local[2]");
    assertThat(cmd.jobArgs).containsExactly("--input", "in", "--filter=mean_entropy<=q0.99");
  }

  @Test
  void labelWithoutATeacherIsAUsageError() {
    Result r = run("label", "--input", "p.jsonl", "--output", "out", "--run-id", "r");
    assertThat(r.code()).isEqualTo(2);
  }

  @Test
  void unknownOptionIsAUsageErrorWithExitCodeTwo() {
    assertThat(run("demo", "--no-such-flag").code()).isEqualTo(2);
    assertThat(run("no-such-command").code()).isEqualTo(2);
  }

  @Test
  void unknownConfigKeyIsAUsageErrorNamingTheKey() {
    Result r = run("demo", "--set", "teacher.layerz=3");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("teacher.layerz");
  }

  @Test
  void trainWithAnUnknownDivergenceIsAUsageErrorNamingIt() {
    Result r =
        run(
            "train",
            "--curated",
            "no-such-folder",
            "--tokenizer",
            "no-such-tokenizer.json",
            "--output",
            "out",
            "--set",
            "train.divergence=kl-ish");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("train.divergence").contains("kl-ish");
  }

  @Test
  void trainWithANonPositiveCheckpointIntervalIsAUsageError() {
    Result r = train("train.checkpoint-every=0");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("train.checkpoint-every");
  }

  @Test
  void trainWithZeroAccumulationStepsOrANegativePatienceIsAUsageError() {
    for (String[] bad :
        new String[][] {
          {"train.accumulation-steps=0", "train.accumulation-steps"},
          {"train.patience=-1", "train.patience"},
          {"train.min-delta=x", "train.min-delta"}
        }) {
      Result r = train(bad[0]);
      assertThat(r.code()).as(bad[0]).isEqualTo(2);
      assertThat(r.err()).as(bad[0]).contains(bad[1]);
    }
  }

  @Test
  void trainSparkWithEarlyStoppingIsAUsageError() {
    Result r = trainSpark("train.patience=1");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("in-process only").contains("train.patience");
  }

  @Test
  void noSubcommandIsAUsageError() {
    assertThat(run().code()).isEqualTo(2);
  }

  /** The lines a command wrote to stderr that are not log lines (HH:mm:ss LEVEL ...). */
  private static List<String> messageLines(Result r) {
    return r.err()
        .lines()
        .filter(l -> !l.isBlank())
        .filter(l -> !LOG_LINE.matcher(l).find())
        .toList();
  }

  private static final java.util.regex.Pattern LOG_LINE =
      java.util.regex.Pattern.compile("^\\d\\d:\\d\\d:\\d\\d (TRACE|DEBUG|INFO|WARN|ERROR)");

  /** One plain line naming {@code what}; the stack trace only with --verbose. */
  private static void assertOneLine(Result r, int code, String what, String... args) {
    assertThat(r.code()).isEqualTo(code);
    assertThat(messageLines(r)).as(r.err()).hasSize(1);
    assertThat(messageLines(r).get(0)).startsWith("distill ").contains(what);
    assertThat(r.err()).doesNotContain("\tat ").doesNotContain("Exception:");
    String[] verbose = java.util.Arrays.copyOf(args, args.length + 1);
    verbose[args.length] = "--verbose";
    Result v = run(verbose);
    assertThat(v.code()).isEqualTo(code);
    assertThat(v.err())
        .contains(messageLines(r).get(0).replace(" (--verbose prints the stack trace)", ""));
    if (code == 1) {
      assertThat(v.err()).contains("\tat ");
    }
  }

  @Test
  void aMissingPathIsOnePlainLineNamingIt() {
    String[] args = {
      "label",
      "--checkpoint",
      "/nonexistent/teacher",
      "--input",
      "/nonexistent/prompts.jsonl",
      "--output",
      "out",
      "--run-id",
      "r"
    };
    Result r = run(args);
    assertOneLine(r, 2, "/nonexistent/prompts.jsonl: no such file or folder", args);
  }

  @Test
  void anEmptyFolderIsOnePlainLineSayingNoParquetFilesInIt(
      @org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    String[] args = {
      "label",
      "--checkpoint",
      "/nonexistent/teacher",
      "--input",
      empty.toString(),
      "--output",
      tmp.resolve("out").toString(),
      "--run-id",
      "r"
    };
    Result r = run(args);
    assertOneLine(r, 1, "no Parquet files (*.parquet) in " + empty, args);
  }

  @Test
  void aTruncatedParquetFileIsOnePlainLineNamingTheFile(@org.junit.jupiter.api.io.TempDir Path tmp)
      throws Exception {
    Path in = Files.createDirectories(tmp.resolve("in"));
    Path f = in.resolve("part-0.parquet");
    // A Parquet file cut short: its magic "PAR1" at the start, the footer gone.
    Files.write(
        f, "PAR1 some column chunk bytes, then the file ends".getBytes(StandardCharsets.UTF_8));
    String[] args = {
      "label",
      "--checkpoint",
      "/nonexistent/teacher",
      "--input",
      in.toString(),
      "--output",
      tmp.resolve("out").toString(),
      "--run-id",
      "r"
    };
    Result r = run(args);
    assertOneLine(r, 1, "part-0.parquet (truncated, or not a Parquet file?)", args);
  }

  @Test
  void aBadSetKeyIsOnePlainLineNamingTheKeyAndTheNearestOne() {
    String[] args = {"config", "--set", "teacher.stpes=5"};
    Result r = run(args);
    assertOneLine(r, 2, "unknown config key 'teacher.stpes' (did you mean teacher.steps?)", args);
  }

  @Test
  void aFailedDemoPrintsOneLineAndWritesTheStackTraceToTheRunsLog(@TempDir Path tmp)
      throws Exception {
    // An unusable bootstrap address fails at the first Kafka call, after the run folder exists.
    Result r =
        run(
            "demo",
            "--quick",
            "--workload",
            "shakespeare-char",
            "--run-id",
            "fails",
            "--bootstrap-servers",
            "not a host:port",
            "--set",
            "run.dir=" + tmp.resolve("runs"),
            "--set",
            "run.cache-dir=" + tmp.resolve("cache"));

    assertThat(r.code()).isEqualTo(1);
    List<String> lines = r.err().lines().filter(l -> !l.isBlank()).toList();
    assertThat(lines).hasSize(1);
    assertThat(lines.get(0)).startsWith("distill demo: ").doesNotContain("\tat ");
    Path log = tmp.resolve("runs/fails").resolve(DemoCommand.LOG);
    assertThat(log).exists();
    String trace = Files.readString(log);
    assertThat(trace).contains(lines.get(0).replace(" (--verbose prints the stack trace)", ""));
    assertThat(trace.lines().filter(l -> l.startsWith("\tat ")).count()).isGreaterThan(3);
  }

  /** {@code distill train} on placeholder paths with one {@code --set}: fails before reading. */
  private static Result train(String set) {
    return run("train", "--curated", "c", "--tokenizer", "t.json", "--output", "out", "--set", set);
  }

  private static Result trainSpark(String set) {
    return run(
        "train",
        "--spark",
        "--curated",
        "c",
        "--tokenizer",
        "t.json",
        "--output",
        "out",
        "--set",
        set);
  }
}
