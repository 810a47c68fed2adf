package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

class JobCliTest {
  private static final String[] CURATE = {
    "--input", "/i", "--output", "/o", "--report", "/runs/r.json"
  };

  /** CurateJob's command line parsed into its config. */
  static CurateConfig parseCurate(String[] args) {
    return JobCli.parse(new CurateJob.Cli(), args);
  }

  private static String[] curateWith(String... more) {
    String[] all = new String[CURATE.length + more.length];
    System.arraycopy(CURATE, 0, all, 0, CURATE.length);
    System.arraycopy(more, 0, all, CURATE.length, more.length);
    return all;
  }

  /** EvalJob's required options, then {@code more}. */
  static String[] evalWith(String... more) {
    String[] required = {
      "--teacher", "/t", "--predictions", "/p", "--output", "/o", "--report", "/r"
    };
    String[] all = new String[required.length + more.length];
    System.arraycopy(required, 0, all, 0, required.length);
    System.arraycopy(more, 0, all, required.length, more.length);
    return all;
  }

  /** Parsing {@code args} is a usage error whose message names each of {@code fragments}. */
  private static void assertUsageError(ThrowingCallable parse, String... fragments) {
    assertThatThrownBy(parse)
        .isInstanceOf(JobCli.UsageException.class)
        .message()
        .contains(fragments);
  }

  @Test
  void anUnknownFlagIsAUsageErrorNamingIt() {
    assertUsageError(() -> parseCurate(curateWith("--val-fractoin", "0.2")), "--val-fractoin");
  }

  @Test
  void aFlagWithoutItsValueIsAUsageError() {
    assertUsageError(
        () -> JobCli.parse(new EvalJob.Cli(), new String[] {"--teacher"}), "--teacher");
  }

  @Test
  void aValueOfTheWrongTypeIsAUsageErrorNamingTheFlag() {
    assertUsageError(
        () -> parseCurate(curateWith("--val-fraction", "a tenth")), "--val-fraction", "a tenth");
    assertUsageError(() -> parseCurate(curateWith("--near-dup-bands", "x")), "--near-dup-bands");
    assertUsageError(
        () -> JobCli.parse(new EvalJob.Cli(), evalWith("--length-buckets", "64,many")),
        "--length-buckets");
  }

  @Test
  void aSingleFlagGivenTwiceIsAUsageErrorButRepeatableOnesAccumulate() {
    assertUsageError(() -> parseCurate(curateWith("--input", "/j")), "--input");
    CurateConfig c =
        parseCurate(curateWith("--filter", "mean_entropy<=q0.9", "--filter=mean_topk_mass>=0.5"));
    assertThat(c.options().logitFilters()).hasSize(2);
  }

  @Test
  void defaultsAreTheDocumentedOnesAndNearDupDefaultsFollowTheThreshold() {
    CurateConfig c = parseCurate(curateWith("--near-dup-threshold", "0.8"));
    assertThat(c.options().nearDuplicates().ngram()).isEqualTo(5);
    assertThat(c.options().nearDuplicates().numHashes()).isEqualTo(48);
    assertThat(c.options().nearDuplicates().bands()).isEqualTo(12);
    assertThat(c.targetFileMb()).isEqualTo(OutputFiles.DEFAULT_TARGET_MB);
    assertThat(c.eventLogDir()).isEqualTo("/runs/spark-events");
    assertThat(parseCurate(curateWith("--event-log", "none")).eventLogDir()).isNull();
  }

  @Test
  void aPathStartingWithAtIsAPathNotAnArgumentFile() {
    CurateConfig c =
        parseCurate(new String[] {"--input", "@raw", "--output", "/o", "--report", "/r/r.json"});
    assertThat(c.inputPath()).isEqualTo("@raw");
  }

  @Test
  void theUsageListsEveryFlagWithItsArgumentAndDefault() {
    String usage = JobCli.usage(CurateJob.class);
    assertThat(usage)
        .startsWith("usage: CurateJob")
        .contains("--input=DIR", "--output=DIR", "--report=FILE", "--val-fraction=F")
        .contains("--near-dup-threshold=J", "--filter=SPEC", "--event-log=DIR|none", "--verbose")
        .contains("(default 0.1)", "(default 13)", "(default 128)");
    assertThat(JobCli.usage(IngestJob.class)).contains("--kafka-option=key=value");
    assertThat(JobCli.usage(FuseJob.class)).contains("--teacher=RAW_DIR=WEIGHT");
    assertThatThrownBy(() -> JobCli.usage(String.class))
        .hasMessageContaining("java.lang.String is not a spark-jobs job");
  }

  @Test
  void aUsageErrorPrintsOneErrorLineThenTheUsageAndExitsTwo() {
    String err =
        stderrOf(
            () ->
                JobCli.exitCode(
                    new EvalJob.Cli(), () -> JobCli.parse(new EvalJob.Cli(), evalWith("--x"))),
            2);
    assertThat(err.lines().findFirst().orElseThrow()).startsWith("error: ").contains("--x");
    assertThat(err).contains("usage: EvalJob");
  }

  @Test
  void aFailurePrintsOneLineAndTheStackTraceOnlyWithVerbose() {
    CurateJob.Cli quiet = new CurateJob.Cli();
    JobCli.parse(quiet, CURATE);
    String err =
        stderrOf(
            () ->
                JobCli.exitCode(
                    quiet,
                    () -> {
                      throw new IllegalStateException("curation of /i failed: file x truncated");
                    }),
            1);
    assertThat(err)
        .isEqualTo("error: curation of /i failed: file x truncated" + System.lineSeparator());

    CurateJob.Cli verbose = new CurateJob.Cli();
    JobCli.parse(verbose, curateWith("--verbose"));
    String loud =
        stderrOf(
            () ->
                JobCli.exitCode(
                    verbose,
                    () -> {
                      throw new IllegalStateException("boom");
                    }),
            1);
    assertThat(loud).startsWith("error: boom").contains("\tat ");
  }

  private interface Exit {
    int code();
  }

  private static String stderrOf(Exit run, int expectedCode) {
    PrintStream before = System.err;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    System.setErr(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    try {
      assertThat(run.code()).isEqualTo(expectedCode);
    } finally {
      System.setErr(before);
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }
}
