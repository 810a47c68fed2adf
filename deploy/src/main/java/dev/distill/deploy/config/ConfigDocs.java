package dev.distill.deploy.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes the documented {@code conf/*.conf} files from {@link ConfigKeys}: one file per stage, each
 * key preceded by its documentation and set to its full-run default. {@code distill config --docs
 * DIR} writes them; a test checks the shipped {@code conf/} equals this output, so the docs cannot
 * drift from the declarations.
 */
public final class ConfigDocs {
  private static final int WIDTH = 100;

  private ConfigDocs() {}

  /** File name -> content, in stage order. */
  public static Map<String, String> files() {
    Map<String, String> out = new LinkedHashMap<>();
    for (ConfigKeys.Stage stage : ConfigKeys.Stage.values()) {
      out.put(stage.file(), file(stage));
    }
    return out;
  }

  static String file(ConfigKeys.Stage stage) {
    StringBuilder sb = new StringBuilder();
    sb.append("# GENERATED from the key declarations (dev.distill.deploy.config.ConfigKeys) by\n");
    sb.append("# `distill config --docs conf`: edit the declarations, not this file.\n");
    sb.append(
        "# key = value; an unknown key fails; DISTILL_<KEY> environment variables override\n");
    sb.append("# (teacher.steps -> DISTILL_TEACHER_STEPS), then --set key=value. Values may be\n");
    sb.append("# ${env:NAME} or ${file:PATH}; secret keys also take KEY.file = PATH.\n");
    sb.append("#\n");
    wrap(sb, stage.doc());
    for (ConfigKeys.Key k : ConfigKeys.all()) {
      if (k.stage() != stage) {
        continue;
      }
      sb.append('\n');
      String doc = k.doc();
      if (!k.full().equals(k.quick())) {
        doc += " (--quick: " + k.quick() + ")";
      }
      if (k.secret()) {
        doc += " [secret]";
      }
      wrap(sb, doc);
      sb.append(k.name()).append(" =");
      if (!k.full().isEmpty()) {
        sb.append(' ').append(k.full());
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  private static void wrap(StringBuilder sb, String text) {
    List<String> lines = new ArrayList<>();
    StringBuilder line = new StringBuilder("#");
    for (String word : text.split(" ")) {
      if (line.length() + 1 + word.length() > WIDTH && line.length() > 1) {
        lines.add(line.toString());
        line = new StringBuilder("#");
      }
      line.append(' ').append(word);
    }
    lines.add(line.toString());
    lines.forEach(l -> sb.append(l).append('\n'));
  }
}
