package dev.distill.trainer.report;

import java.util.ArrayList;
import java.util.List;

/**
 * One HTML table of the report: a header row, then rows of cells. Every heading and cell is text
 * (data) and escaped here; name columns are left-aligned, number columns right-aligned.
 */
final class HtmlTable {
  /** A column: its heading and whether it holds names (left) or numbers (right). */
  record Column(String heading, boolean name) {}

  private final String id;
  private final List<Column> columns = new ArrayList<>();
  private final List<List<String>> rows = new ArrayList<>();

  /**
   * @param id the table's element id (tests and the page's readers find it by it)
   */
  HtmlTable(String id) {
    this.id = id;
  }

  HtmlTable names(String... headings) {
    for (String h : headings) {
      columns.add(new Column(h, true));
    }
    return this;
  }

  HtmlTable numbers(String... headings) {
    for (String h : headings) {
      columns.add(new Column(h, false));
    }
    return this;
  }

  /** Adds a row, one cell per column in order. */
  HtmlTable row(String... cells) {
    return row(List.of(cells));
  }

  /** Adds a row: the {@code first} cells, then {@code rest}. */
  HtmlTable row(List<String> first, String... rest) {
    List<String> cells = new ArrayList<>(first);
    cells.addAll(List.of(rest));
    return row(cells);
  }

  HtmlTable row(List<String> cells) {
    if (cells.size() != columns.size()) {
      throw new IllegalArgumentException(
          "table "
              + id
              + ": a row of "
              + cells.size()
              + " cells for "
              + columns.size()
              + " columns");
    }
    rows.add(List.copyOf(cells));
    return this;
  }

  String render() {
    StringBuilder sb = new StringBuilder("<table id=\"").append(Html.escape(id)).append("\"><tr>");
    for (Column c : columns) {
      sb.append(c.name() ? "<th class=\"name\">" : "<th>")
          .append(Html.escape(c.heading()))
          .append("</th>");
    }
    sb.append("</tr>\n");
    for (List<String> row : rows) {
      sb.append("<tr>");
      for (int i = 0; i < row.size(); i++) {
        sb.append(columns.get(i).name() ? "<td class=\"name\">" : "<td>")
            .append(Html.escape(row.get(i)))
            .append("</td>");
      }
      sb.append("</tr>\n");
    }
    return sb.append("</table>\n").toString();
  }
}
