package dev.distill.deploy.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.deploy.cli.DistillCli;
import dev.distill.deploy.config.ConfigKeys;
import dev.distill.spark.jobs.JobCli;
import dev.distill.training.spi.WorkerTask;
import java.io.IOException;
import java.io.Reader;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import picocli.CommandLine;

/**
 * Parses every manifest under {@code deploy/k8s} and checks that what it names exists: Spark job
 * classes with a {@code main} and the options they pass, {@code distill} subcommands and options,
 * config keys behind {@code DISTILL_*} variables, the teacher's HTTP paths, the conf files in the
 * ConfigMap, and one image tag (the project version) built by a Dockerfile here.
 */
class K8sManifestsTest {
  static final Path K8S = Path.of("k8s");
  static final Path ROOT_POM = Path.of("..", "pom.xml");

  /**
   * The HTTP API of teacher-service (health, readiness, Prometheus metrics, labelling). Probes and
   * scrape annotations must point here.
   */
  static final Set<String> TEACHER_PATHS =
      Set.of("/healthz", "/readyz", "/metrics", "/v1/soft-labels", "/v1/completions");

  /**
   * Subcommands the manifests use that belong to another module's work in flight (none now: {@code
   * distill serve} is teacher-service's {@code serve}). A pending one must not exist yet; the test
   * fails once it does, so it is removed from here and its arguments get checked too.
   */
  static final Set<String> PENDING_SUBCOMMANDS = Set.of();

  static List<Map<String, Object>> docs = new ArrayList<>();
  static String version;

  @BeforeAll
  static void load() throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.list(K8S)) {
      files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    assertThat(files).isNotEmpty();
    Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()));
    for (Path f : files) {
      try (Reader r = Files.newBufferedReader(f)) {
        for (Object doc : yaml.loadAll(r)) {
          assertThat(doc).as("a document of %s", f).isInstanceOf(Map.class);
          @SuppressWarnings("unchecked")
          Map<String, Object> m = (Map<String, Object>) doc;
          assertThat(m).as(f.toString()).containsKeys("apiVersion", "kind", "metadata");
          assertThat(map(m, "metadata")).as(f.toString()).containsKey("name");
          docs.add(m);
        }
      }
    }
    version = rootPomProjectVersion();
  }

  @Test
  void everyDeployableThePipelineNeedsIsThere() {
    assertThat(docs.stream().map(d -> d.get("kind") + "/" + str(map(d, "metadata"), "name")))
        .contains(
            "Deployment/distill-teacher",
            "Service/distill-teacher",
            "ConfigMap/distill-conf",
            "Job/distill-create-topics",
            "SparkApplication/distill-ingest",
            "SparkApplication/distill-curate",
            "SparkApplication/distill-relabel",
            "SparkApplication/distill-train",
            "Job/distill-train");
  }

  @Test
  void sparkApplicationsRunExistingJobsWithOptionsTheyAccept() throws Exception {
    List<Map<String, Object>> apps = kind("SparkApplication");
    assertThat(apps).hasSizeGreaterThanOrEqualTo(3);
    for (Map<String, Object> app : apps) {
      assertThat(app.get("apiVersion")).isEqualTo("sparkoperator.k8s.io/v1beta2");
      Map<String, Object> spec = map(app, "spec");
      assertThat(spec.get("type")).isEqualTo("Java");
      assertThat(str(spec, "sparkVersion")).isEqualTo(rootPomProperty("spark.version"));
      assertThat(str(spec, "image")).isEqualTo("ghcr.io/distill/distill-spark:" + version);
      Class<?> job = Class.forName(str(spec, "mainClass"));
      Method main = job.getMethod("main", String[].class);
      assertThat(Modifier.isStatic(main.getModifiers())).isTrue();
      String usage = usageOf(job);
      for (String arg : list(spec, "arguments")) {
        if (arg.startsWith("--")) {
          assertThat(usage)
              .as("%s accepts %s", job.getSimpleName(), arg)
              .containsPattern(Pattern.quote(arg) + "[= ]");
        }
      }
      if (job.getSimpleName().equals("BarrierTrainJob")) {
        checkBarrierTraining(spec);
      }
      // The jar the image carries (distill-spark.Dockerfile copies it there).
      String jar = str(spec, "mainApplicationFile");
      assertThat(jar).startsWith("local://");
      assertThat(Files.readString(K8S.resolve("images/distill-spark.Dockerfile")))
          .contains(" " + jar.substring("local://".length()) + "\n");
    }
  }

  @Test
  void distillContainersRunRealSubcommandsAndKnownConfigKeys() {
    int checked = 0;
    for (Map<String, Object> c : containers()) {
      String image = str(c, "image");
      if (!image.startsWith("ghcr.io/distill/distill:")) {
        continue;
      }
      assertThat(image).isEqualTo("ghcr.io/distill/distill:" + version);
      checked++;
      assertThat(list(c, "command")).containsExactly("/opt/distill/bin/distill");
      List<String> args = list(c, "args");
      if (PENDING_SUBCOMMANDS.contains(args.get(0))) {
        assertThat(new CommandLine(new DistillCli()).getSubcommands())
            .doesNotContainKey(args.get(0));
      } else {
        // Parses (subcommand, option names, types) without running anything.
        new CommandLine(new DistillCli()).parseArgs(args.toArray(String[]::new));
      }
      for (Map<String, Object> env : maps(c, "env")) {
        String name = str(env, "name");
        if (name.startsWith("DISTILL_")) {
          assertThat(envKeys()).as("%s names a declared config key", name).contains(name);
        }
      }
    }
    assertThat(checked).as("containers running distill").isPositive();
  }

  @Test
  void teacherIsProbedScrapedAndReadsItsTokenFromASecret() {
    Map<String, Object> deployment = named("Deployment", "distill-teacher");
    Map<String, Object> pod = map(map(deployment, "spec"), "template");
    Map<String, Object> c = maps(map(pod, "spec"), "containers").get(0);
    assertThat(str(map(map(c, "livenessProbe"), "httpGet"), "path")).isEqualTo("/healthz");
    assertThat(str(map(map(c, "readinessProbe"), "httpGet"), "path")).isEqualTo("/readyz");
    Map<String, Object> annotations = map(map(pod, "metadata"), "annotations");
    assertThat(annotations).containsEntry("prometheus.io/scrape", "true");
    assertThat(TEACHER_PATHS).contains(str(annotations, "prometheus.io/path"));
    assertThat(str(annotations, "prometheus.io/path")).isEqualTo("/metrics");
    Set<String> ports =
        maps(c, "ports").stream()
            .map(p -> String.valueOf(p.get("containerPort")))
            .collect(Collectors.toSet());
    assertThat(ports).contains(str(annotations, "prometheus.io/port"));

    // The token: `serve` reads it from the variable named by --http-token-env; that variable comes
    // from the Secret by reference (secretKeyRef), never as an inline value.
    List<String> args = list(c, "args");
    int i = args.indexOf("--http-token-env");
    assertThat(i).as("serve binds off loopback, so it needs --http-token-env").isPositive();
    String tokenVar = args.get(i + 1);
    Map<String, Object> tokenEnv =
        maps(c, "env").stream()
            .filter(e -> e.get("name").equals(tokenVar))
            .findFirst()
            .orElseThrow();
    assertThat(tokenEnv).doesNotContainKey("value");
    assertThat(str(map(map(tokenEnv, "valueFrom"), "secretKeyRef"), "name"))
        .isEqualTo("distill-teacher-token");
    // Only secret references come from valueFrom; no other variable is sourced that way.
    assertThat(maps(c, "env"))
        .filteredOn(e -> e.containsKey("valueFrom"))
        .allSatisfy(e -> assertThat(map(e, "valueFrom")).containsOnlyKeys("secretKeyRef"));

    Map<String, Object> service = named("Service", "distill-teacher");
    assertThat(map(map(service, "spec"), "selector"))
        .isEqualTo(map(map(map(deployment, "spec"), "selector"), "matchLabels"));
    Set<String> portNames =
        maps(c, "ports").stream().map(p -> str(p, "name")).collect(Collectors.toSet());
    assertThat(maps(map(service, "spec"), "ports"))
        .allSatisfy(p -> assertThat(portNames).contains(str(p, "targetPort")));
  }

  @Test
  void configMapHoldsExactlyTheShippedConfFiles() throws IOException {
    Map<String, Object> data = map(named("ConfigMap", "distill-conf"), "data");
    Set<String> names = new HashSet<>();
    try (Stream<Path> s = Files.list(Path.of("..", "conf"))) {
      for (Path f : s.filter(p -> p.toString().endsWith(".conf")).toList()) {
        names.add(f.getFileName().toString());
        assertThat(data.get(f.getFileName().toString()))
            .as("ConfigMap entry %s (run deploy/k8s/gen-configmap.sh)", f.getFileName())
            .isEqualTo(Files.readString(f));
      }
    }
    assertThat(data.keySet()).isEqualTo(names);
    // Every --config /etc/distill/X.conf a container names is in the ConfigMap.
    Pattern confArg = Pattern.compile("/etc/distill/([^/\\s]+\\.conf)");
    for (Map<String, Object> c : containers()) {
      for (String a : list(c, "args")) {
        Matcher m = confArg.matcher(a);
        if (m.find()) {
          assertThat(data).containsKey(m.group(1));
        }
      }
    }
  }

  @Test
  void topicJobCreatesTheConfiguredTopicWithTheKafkaVersionSparkShips() {
    Map<String, Object> c =
        maps(
                map(map(map(named("Job", "distill-create-topics"), "spec"), "template"), "spec"),
                "containers")
            .get(0);
    assertThat(str(c, "image")).isEqualTo("apache/kafka:" + rootPomProperty("kafka.version"));
    List<String> args = list(c, "args");
    assertThat(args).contains("--if-not-exists");
    assertThat(args.get(args.indexOf("--topic") + 1))
        .isEqualTo(ConfigKeys.defaults(false).get("kafka.topic"));
  }

  @Test
  void everyImageIsBuiltByADockerfileHereOrIsAnUpstreamImage() {
    Set<String> images = new HashSet<>();
    for (Map<String, Object> c : containers()) {
      images.add(str(c, "image"));
    }
    for (Map<String, Object> app : kind("SparkApplication")) {
      images.add(str(map(app, "spec"), "image"));
    }
    for (String image : images) {
      if (image.startsWith("ghcr.io/distill/")) {
        String name = image.substring("ghcr.io/distill/".length(), image.indexOf(':'));
        assertThat(K8S.resolve("images/" + name + ".Dockerfile")).isRegularFile();
        assertThat(image).endsWith(":" + version);
      } else {
        assertThat(image).startsWith("apache/kafka:");
      }
    }
  }

  /**
   * Barrier mode schedules all tasks at once or none: the executors must offer a slot per worker.
   * Every trainer option is a declared config key or one of the trainer's paths.
   */
  static void checkBarrierTraining(Map<String, Object> spec) {
    List<String> args = list(spec, "arguments");
    int workers = Integer.parseInt(args.get(args.indexOf("--workers") + 1));
    Map<String, Object> executor = map(spec, "executor");
    int taskCpus = Integer.parseInt(str(map(spec, "sparkConf"), "spark.task.cpus"));
    int slots =
        Integer.parseInt(str(executor, "instances"))
            * (Integer.parseInt(str(executor, "cores")) / taskCpus);
    assertThat(slots).as("barrier slots for %d workers", workers).isGreaterThanOrEqualTo(workers);
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i < args.size() - 1; i++) {
      if (args.get(i).equals("--option")) {
        String option = args.get(i + 1);
        String key = option.substring(0, option.indexOf('='));
        assertThat(
                Set.of("curated", "tokenizer", "output").contains(key)
                    || ConfigKeys.find(key).isPresent())
            .as("trainer option %s is a declared key", key)
            .isTrue();
        options.put(key, option.substring(option.indexOf('=') + 1));
      }
    }
    // What BarrierTrainJob.main does with them on the driver: a complete, valid job.
    assertThat(WorkerTask.Job.fromOptions(options).hyper().steps()).isPositive();
    assertThat(str(map(spec, "sparkConf"), "spark.executor.extraClassPath"))
        .isEqualTo("/opt/distill/trainer-lib/*");
    assertThat(
            (int)
                ConfigKeys.all().stream().filter(k -> k.name().startsWith("train.spark.")).count())
        .isPositive();
  }

  // ---- helpers

  static Set<String> envKeys() {
    Set<String> names = new HashSet<>();
    for (ConfigKeys.Key k : ConfigKeys.all()) {
      names.add(envName(k.name()));
      names.add(envName(k.name() + ".file"));
    }
    return names;
  }

  static String envName(String key) {
    return "DISTILL_" + key.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_");
  }

  /** The job's usage: picocli's for the jobs package; BarrierTrainJob keeps its USAGE text. */
  static String usageOf(Class<?> job) throws ReflectiveOperationException {
    if (job.getPackageName().equals("dev.distill.spark.jobs")) {
      return JobCli.usage(job) + " ";
    }
    Field f = job.getDeclaredField("USAGE");
    f.setAccessible(true);
    return f.get(null) + " ";
  }

  static List<Map<String, Object>> containers() {
    List<Map<String, Object>> out = new ArrayList<>();
    for (Map<String, Object> d : docs) {
      if (d.get("kind").equals("Deployment") || d.get("kind").equals("Job")) {
        out.addAll(maps(map(map(map(d, "spec"), "template"), "spec"), "containers"));
      }
    }
    return out;
  }

  static List<Map<String, Object>> kind(String kind) {
    return docs.stream().filter(d -> d.get("kind").equals(kind)).toList();
  }

  static Map<String, Object> named(String kind, String name) {
    return kind(kind).stream()
        .filter(d -> name.equals(map(d, "metadata").get("name")))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + kind + " " + name));
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Map<String, Object> m, String key) {
    Object v = m.get(key);
    assertThat(v).as(key).isInstanceOf(Map.class);
    return (Map<String, Object>) v;
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> maps(Map<String, Object> m, String key) {
    Object v = m.get(key);
    return v == null ? List.of() : (List<Map<String, Object>>) v;
  }

  static List<String> list(Map<String, Object> m, String key) {
    Object v = m.get(key);
    if (v == null) {
      return List.of();
    }
    return ((List<?>) v).stream().map(String::valueOf).toList();
  }

  static String str(Map<String, Object> m, String key) {
    Object v = m.get(key);
    assertThat(v).as(key).isNotNull();
    return String.valueOf(v);
  }

  static String rootPomProjectVersion() throws IOException {
    Matcher m =
        Pattern.compile("<artifactId>distill-parent</artifactId>\\s*<version>([^<]+)</version>")
            .matcher(Files.readString(ROOT_POM));
    assertThat(m.find()).isTrue();
    return m.group(1);
  }

  static String rootPomProperty(String name) {
    try {
      Matcher m =
          Pattern.compile("<" + Pattern.quote(name) + ">([^<]+)</")
              .matcher(Files.readString(ROOT_POM));
      assertThat(m.find()).as(name).isTrue();
      return m.group(1);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }
}
