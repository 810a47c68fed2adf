package dev.distill.deploy.airflow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.distill.deploy.cli.DistillCli;
import dev.distill.spark.jobs.JobCli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The Airflow DAG and its cron twin: the DAG parses as Python (no Airflow install needed), the
 * chain is label -> ingest -> curate -> train -> eval with every output (and the labels' topic)
 * under the run date, and every command either is a real {@code distill} command line (parsed by
 * picocli) or runs a real Spark job class with options it accepts. The shell script runs the same
 * commands in the same order.
 */
class ScheduledPipelineTest {
  static final Path DAG = Path.of("airflow", "distill_pipeline.py");
  static final Path SCRIPT = Path.of("airflow", "pipeline.sh");

  /** distill subcommands that are other engineers' work in flight; fails once they exist. */
  static final Set<String> PENDING_SUBCOMMANDS = Set.of();

  /** Prints the DAG's ORDER and COMMANDS, read with ast (no import, so no Airflow needed). */
  static final String DUMP =
      "import ast, json, sys\n"
          + "tree = ast.parse(open(sys.argv[1]).read())\n"
          + "env = {'RUNS': '/data/runs', 'PROMPTS': '/data/prompts',"
          + " 'TEACHER': '/data/models/teacher', 'SPARK_JAR': '/opt/distill/spark-jobs-app.jar',"
          + " 'KAFKA': 'kafka:9092'}\n"
          + "out = {}\n"
          + "for node in tree.body:\n"
          + "    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):\n"
          + "        name = node.targets[0].id\n"
          + "        src = ast.get_source_segment(open(sys.argv[1]).read(), node.value)\n"
          + "        if name in ('RUN', 'LABELS_TOPIC'):\n"
          + "            env[name] = eval(src, {}, dict(env))\n"
          + "        if name in ('COMMANDS', 'ORDER'):\n"
          + "            out[name] = eval(src, {}, dict(env))\n"
          + "print(json.dumps(out))\n";

  @Test
  void dagRunsTheChainWithRealCommandsIdempotentPerRunDate() throws Exception {
    String json = python(DUMP, DAG.toString());
    @SuppressWarnings("unchecked")
    java.util.Map<String, Object> parsed =
        new com.fasterxml.jackson.databind.ObjectMapper().readValue(json, java.util.Map.class);
    @SuppressWarnings("unchecked")
    List<String> order = (List<String>) parsed.get("ORDER");
    assertThat(order).containsExactly("label", "ingest", "curate", "train", "eval");
    @SuppressWarnings("unchecked")
    java.util.Map<String, List<String>> commands =
        (java.util.Map<String, List<String>>) parsed.get("COMMANDS");
    for (String task : order) {
      List<String> argv = commands.get(task);
      checkCommand(task, argv);
      // Idempotent per run date: every path and topic it writes (or, for a streaming job, its
      // checkpoint and topic) carries the date. (distill label's --checkpoint is the teacher.)
      Set<String> dated =
          argv.get(0).equals("spark-submit")
              ? Set.of("--output", "--report", "--quarantine", "--checkpoint", "--topic")
              : Set.of("--output", "--run-dir", "--run-id", "--outputs-topic");
      for (int i = 0; i < argv.size() - 1; i++) {
        if (dated.contains(argv.get(i))) {
          assertThat(argv.get(i + 1)).as("%s %s", task, argv.get(i)).contains("{{ ds }}");
        }
      }
    }
    // Each date labels its own prompts into its own topic, ingest reads that topic (from a
    // checkpoint of that date), and curation reads what ingest of that date wrote.
    List<String> label = commands.get("label");
    assertThat(label.get(label.indexOf("--input") + 1)).contains("{{ ds }}");
    List<String> ingest = commands.get("ingest");
    assertThat(ingest.get(ingest.indexOf("--class") + 1))
        .isEqualTo("dev.distill.spark.jobs.IngestJob");
    assertThat(ingest.get(ingest.indexOf("--topic") + 1))
        .isEqualTo(label.get(label.indexOf("--outputs-topic") + 1));
    assertThat(ingest.get(ingest.indexOf("--bootstrap-servers") + 1))
        .isEqualTo(label.get(label.indexOf("--bootstrap-servers") + 1));
    assertThat(ingest.get(ingest.indexOf("--trigger") + 1)).isEqualTo("available-now");
    List<String> curate = commands.get("curate");
    assertThat(curate.get(curate.indexOf("--input") + 1))
        .isEqualTo(ingest.get(ingest.indexOf("--output") + 1));
  }

  @Test
  void cronScriptIsValidBashAndRunsTheSameCommandsInTheSameOrder() throws Exception {
    Process p =
        new ProcessBuilder("bash", "-n", SCRIPT.toString()).redirectErrorStream(true).start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(new String(p.getInputStream().readAllBytes())).isZero();

    String script = Files.readString(SCRIPT);
    List<String> steps = new ArrayList<>();
    Matcher m =
        Pattern.compile("\"\\$DISTILL\" (\\w+)|--class (dev\\.distill\\.spark\\.jobs\\.\\w+)")
            .matcher(script);
    while (m.find()) {
      if (m.group(1) != null) {
        steps.add("distill " + m.group(1));
        List<String> argv = shellWords(commandAt(script, m.start()));
        argv.set(0, "distill");
        checkCommand(m.group(1), argv);
      } else {
        steps.add(m.group(2));
        assertThat(Class.forName(m.group(2))).isNotNull();
      }
    }
    assertThat(steps)
        .containsExactly(
            "distill label",
            "dev.distill.spark.jobs.IngestJob",
            "dev.distill.spark.jobs.CurateJob",
            "distill train",
            "distill eval");
    // Spark options in the script are ones the jobs accept.
    Matcher opt =
        Pattern.compile("--class (\\S+) \"\\$SPARK_JAR\"([^\\n]*(?:\\\\\\n[^\\n]*)*)")
            .matcher(script);
    int jobs = 0;
    while (opt.find()) {
      String usage = usageOf(Class.forName(opt.group(1)));
      Matcher flag = Pattern.compile("(--[a-z-]+)").matcher(opt.group(2));
      while (flag.find()) {
        assertThat(usage)
            .as("%s accepts %s", opt.group(1), flag.group(1))
            .containsPattern(Pattern.quote(flag.group(1)) + "[= ]");
      }
      jobs++;
    }
    assertThat(jobs).isEqualTo(2);
  }

  static void checkCommand(String task, List<String> argv) throws Exception {
    if (argv.get(0).equals("distill")) {
      String sub = argv.get(1);
      CommandLine cli = new CommandLine(new DistillCli());
      if (PENDING_SUBCOMMANDS.contains(sub)) {
        assertThat(cli.getSubcommands())
            .as("distill %s exists now: remove it from PENDING_SUBCOMMANDS", sub)
            .doesNotContainKey(sub);
      } else {
        cli.parseArgs(argv.subList(1, argv.size()).toArray(String[]::new));
      }
    } else {
      assertThat(argv.get(0)).as(task).isEqualTo("spark-submit");
      int c = argv.indexOf("--class");
      Class<?> job = Class.forName(argv.get(c + 1));
      job.getMethod("main", String[].class);
      String usage = usageOf(job);
      // Everything after the application jar is the job's own command line.
      for (String a : argv.subList(c + 3, argv.size())) {
        if (a.startsWith("--")) {
          assertThat(usage)
              .as("%s accepts %s", job.getSimpleName(), a)
              .containsPattern(Pattern.quote(a) + "[= ]");
        }
      }
    }
  }

  static String usageOf(Class<?> job) {
    return JobCli.usage(job) + " ";
  }

  /** The shell command starting at {@code from}, with backslash-newline continuations joined. */
  static String commandAt(String script, int from) {
    StringBuilder sb = new StringBuilder();
    int at = from;
    while (true) {
      int nl = script.indexOf('\n', at);
      String line = script.substring(at, nl < 0 ? script.length() : nl);
      if (line.endsWith("\\") && nl >= 0) {
        sb.append(line, 0, line.length() - 1).append(' ');
        at = nl + 1;
      } else {
        return sb.append(line).toString();
      }
    }
  }

  /** Words of one shell line: "..." and '...' quoting, no expansion. */
  static List<String> shellWords(String line) {
    List<String> out = new ArrayList<>();
    Matcher m = Pattern.compile("\"([^\"]*)\"|'([^']*)'|(\\S+)").matcher(line);
    while (m.find()) {
      out.add(m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3));
    }
    return out;
  }

  static String python(String program, String arg) throws IOException, InterruptedException {
    boolean present;
    try {
      present = new ProcessBuilder("python3", "--version").start().waitFor() == 0;
    } catch (IOException e) {
      present = false;
    }
    assumeThat(present || System.getenv("CI") != null).as("python3 on PATH").isTrue();
    Process p = new ProcessBuilder("python3", "-c", program, arg).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(err).isZero();
    return out.trim();
  }
}
