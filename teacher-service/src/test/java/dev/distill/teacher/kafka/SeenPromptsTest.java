package dev.distill.teacher.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import dev.distill.schemas.avro.Prompt;
import org.junit.jupiter.api.Test;

class SeenPromptsTest {
  private static Prompt prompt(String run, String id, String text, String gold) {
    return Prompt.newBuilder()
        .setPromptId(id)
        .setRunId(run)
        .setSource("s")
        .setText(text)
        .setGoldAnswer(gold)
        .build();
  }

  @Test
  void aRetryOfTheSameContentPassesADifferentContentUnderASeenIdIsNamed() {
    SeenPrompts seen = new SeenPrompts(10);
    assertThat(seen.check(prompt("r", "p1", "hello", null), "t-0@1")).isNull();
    assertThat(seen.check(prompt("r", "p1", "hello", null), "t-0@9")).as("retry").isNull();
    SeenPrompts.First first = seen.check(prompt("r", "p1", "other", null), "t-0@12");
    assertThat(first).isNotNull();
    assertThat(first.source()).isEqualTo("t-0@1");
    assertThat(seen.check(prompt("r", "p1", "hello", "7"), "t-0@13")).isNotNull();
    // The same id in another run is another prompt.
    assertThat(seen.check(prompt("r2", "p1", "other", null), "t-1@0")).isNull();
  }

  @Test
  void theLeastRecentlySeenIdIsForgottenPastTheCapacity() {
    SeenPrompts seen = new SeenPrompts(2);
    seen.check(prompt("r", "a", "x", null), "0");
    seen.check(prompt("r", "b", "x", null), "1");
    seen.check(prompt("r", "c", "x", null), "2");
    assertThat(seen.size()).isEqualTo(2);
    assertThat(seen.check(prompt("r", "a", "y", null), "3")).as("forgotten").isNull();
    assertThat(seen.check(prompt("r", "c", "y", null), "4")).isNotNull();
  }
}
