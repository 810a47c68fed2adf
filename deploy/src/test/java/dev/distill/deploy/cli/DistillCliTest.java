package dev.distill.deploy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
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
    assertThat(curate.out()).contains("--master", "usage: CurateJob --input DIR --output DIR");
    Result fuse = run("fuse", "--help");
    assertThat(fuse.code()).isZero();
    assertThat(fuse.out()).contains("--master", "usage: FuseJob --teacher RAW_DIR=WEIGHT");
    Result ingest = run("ingest", "--help");
    assertThat(ingest.code()).isZero();
    assertThat(ingest.out()).contains("usage: IngestJob --bootstrap-servers");
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
    Result r =
        run(
            "train",
            "--curated",
            "c",
            "--tokenizer",
            "t.json",
            "--output",
            "out",
            "--set",
            "train.checkpoint-every=0");
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
      Result r =
          run(
              "train",
              "--curated",
              "c",
              "--tokenizer",
              "t.json",
              "--output",
              "out",
              "--set",
              bad[0]);
      assertThat(r.code()).as(bad[0]).isEqualTo(2);
      assertThat(r.err()).as(bad[0]).contains(bad[1]);
    }
  }

  @Test
  void trainSparkWithAccumulationOrEarlyStoppingIsAUsageError() {
    for (String bad : new String[] {"train.accumulation-steps=2", "train.patience=1"}) {
      Result r =
          run(
              "train",
              "--spark",
              "--curated",
              "c",
              "--tokenizer",
              "t.json",
              "--output",
              "out",
              "--set",
              bad);
      assertThat(r.code()).as(bad).isEqualTo(2);
      assertThat(r.err()).as(bad).contains("in-process only");
    }
  }

  @Test
  void noSubcommandIsAUsageError() {
    assertThat(run().code()).isEqualTo(2);
  }
}
