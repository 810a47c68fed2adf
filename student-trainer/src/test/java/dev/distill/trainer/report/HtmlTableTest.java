package dev.distill.trainer.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class HtmlTableTest {
  @Test
  void namesAreLeftAlignedNumbersRightAlignedAndEveryTextEscaped() {
    String html =
        new HtmlTable("t").names("model").numbers("params").row("<b>x</b>", "1,000").render();

    assertThat(html)
        .isEqualTo(
            "<table id=\"t\"><tr><th class=\"name\">model</th><th>params</th></tr>\n"
                + "<tr><td class=\"name\">&lt;b&gt;x&lt;/b&gt;</td><td>1,000</td></tr>\n"
                + "</table>\n");
  }

  @Test
  void aRowWithTheWrongNumberOfCellsIsRefusedNamingTheTable() {
    HtmlTable t = new HtmlTable("cost").names("model").numbers("params");
    assertThatThrownBy(() -> t.row("only-one"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cost")
        .hasMessageContaining("1 cells for 2 columns");
  }
}
