package dev.distill.spark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The spark-submit scripts of {@code deploy/spark} agree with the job classes. */
class DeploySparkScriptsTest {
  private static final Path DIR = Path.of("..", "deploy", "spark");

  private static final Map<String, String> USAGES =
      Map.of(
          "IngestJob", JobCli.usage(IngestJob.class),
          "CurateJob", JobCli.usage(CurateJob.class),
          "CurateRationalesJob", JobCli.usage(CurateRationalesJob.class),
          "RelabelJob", JobCli.usage(RelabelJob.class),
          "FuseJob", JobCli.usage(FuseJob.class),
          "EvalJob", JobCli.usage(EvalJob.class));

  @Test
  void everyScriptNamesAJobClassWithAMainAndEveryJobHasAScript() throws Exception {
    Pattern cls = Pattern.compile("dev\\.distill\\.spark\\.jobs\\.([A-Za-z]+)");
    List<String> named = new ArrayList<>();
    try (var files = Files.list(DIR)) {
      for (Path script : files.filter(f -> f.toString().endsWith(".sh")).toList()) {
        if (script.getFileName().toString().equals("submit.sh")) {
          continue;
        }
        Matcher m = cls.matcher(Files.readString(script));
        assertThat(m.find()).as("%s names a job class", script).isTrue();
        Method main = Class.forName(m.group()).getMethod("main", String[].class);
        assertThat(Modifier.isStatic(main.getModifiers())).isTrue();
        named.add(m.group(1));
      }
    }
    assertThat(named).containsExactlyInAnyOrderElementsOf(USAGES.keySet());
  }

  @Test
  void theReadmeTableListsOnlyOptionsTheJobsAccept() throws Exception {
    Pattern row = Pattern.compile("^\\| `([a-z-]+\\.sh)` \\| `([A-Za-z]+)` \\| (.*) \\|$");
    Pattern option = Pattern.compile("--[a-z][a-z-]*");
    int rows = 0;
    for (String line : Files.readAllLines(DIR.resolve("README.md"))) {
      Matcher m = row.matcher(line);
      if (!m.matches()) {
        continue;
      }
      rows++;
      String usage = USAGES.get(m.group(2));
      assertThat(usage).as("job %s", m.group(2)).isNotNull();
      assertThat(Files.readString(DIR.resolve(m.group(1)))).contains(m.group(2));
      Matcher o = option.matcher(m.group(3));
      while (o.find()) {
        assertThat(usage)
            .as("%s accepts %s", m.group(2), o.group())
            .containsPattern(Pattern.quote(o.group()) + "[= \\n]");
      }
    }
    assertThat(rows).isEqualTo(USAGES.size());
  }

  @Test
  void ingestScriptPassesKafkaPropertiesAndTheDeployModeToSparkSubmit(@TempDir Path tmp)
      throws Exception {
    Path stub = tmp.resolve("spark-submit");
    Files.writeString(stub, "#!/usr/bin/env bash\nprintf '%s\\n' \"$@\"\n");
    stub.toFile().setExecutable(true);
    Path jar = Files.createFile(tmp.resolve("app.jar"));
    Path kafka = tmp.resolve("kafka.properties");
    Files.writeString(
        kafka,
        "# comment\nsecurity.protocol=SASL_SSL\n\nsasl.jaas.config=x required password=\"p=q\";\n");
    ProcessBuilder pb =
        new ProcessBuilder(
            "bash", DIR.resolve("ingest.sh").toString(), "--topic", "t", "--trigger", "x");
    pb.environment().put("SPARK_SUBMIT", stub.toString());
    pb.environment().put("DISTILL_APP_JAR", jar.toString());
    pb.environment().put("DISTILL_DEPLOY_MODE", "cluster");
    pb.environment().put("DISTILL_SPARK_MASTER", "yarn");
    pb.environment().put("DISTILL_KAFKA_PROPERTIES", kafka.toString());
    pb.redirectErrorStream(true);
    Process p = pb.start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    List<String> argv =
        List.of(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n"));

    assertThat(p.exitValue()).as("%s", argv).isZero();
    assertThat(argv)
        .containsExactly(
            "--master",
            "yarn",
            "--deploy-mode",
            "cluster",
            "--class",
            "dev.distill.spark.jobs.IngestJob",
            jar.toString(),
            "--topic",
            "t",
            "--trigger",
            "x",
            "--kafka-option",
            "security.protocol=SASL_SSL",
            "--kafka-option",
            "sasl.jaas.config=x required password=\"p=q\";");
  }

  @Test
  void aBadDeployModeIsAUsageError(@TempDir Path tmp) throws Exception {
    Path jar = Files.createFile(tmp.resolve("app.jar"));
    ProcessBuilder pb = new ProcessBuilder("bash", DIR.resolve("curate.sh").toString());
    pb.environment().put("SPARK_SUBMIT", "/bin/false");
    pb.environment().put("DISTILL_APP_JAR", jar.toString());
    pb.environment().put("DISTILL_DEPLOY_MODE", "server");
    pb.redirectErrorStream(true);
    Process p = pb.start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8))
        .contains("client or cluster");
    assertThat(p.exitValue()).isEqualTo(2);
  }
}
