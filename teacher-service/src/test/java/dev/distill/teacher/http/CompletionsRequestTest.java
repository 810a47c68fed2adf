package dev.distill.teacher.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.tokenizer.CharTokenizer;
import dev.distill.teacher.inference.LabelingConfig;
import dev.distill.teacher.inference.LocalTeacher;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The request seams of both completions endpoints: JSON in, a typed request or a 400 naming the
 * field.
 */
class CompletionsRequestTest {
  static LocalTeacher teacher;
  static Generations gens;
  // maxK 4, maxTokens 32
  static final ServerConfig CONFIG =
      ServerConfig.builder()
          .optMaxBodyBytes(1 << 16)
          .optMaxK(4)
          .optMaxTokens(32)
          .optMaxInFlight(8)
          .build();

  @BeforeAll
  static void start() {
    CharTokenizer tok = CharTokenizer.fromCorpus("abcdefghijklmnopqrstuvwxyz ,.");
    teacher =
        new LocalTeacher(
            "t",
            LanguageModel.create(new GptConfig(tok.vocabSize(), 8, 1, 2, 16, 0f), tok, 7),
            new LabelingConfig(4, 1f, 8));
    gens = new Generations(teacher.textGeneration().orElseThrow(), CONFIG);
  }

  @AfterAll
  static void stop() {
    teacher.close();
  }

  static CompletionsRequest parse(String body) throws ApiError {
    JsonObject o = JsonParser.parseString(body).getAsJsonObject();
    return CompletionsRequest.parse(o, gens, teacher, CONFIG);
  }

  @Test
  void defaultsAreOneChoiceOf16TokensWithoutLogprobsEchoOrStream() throws ApiError {
    CompletionsRequest r = parse("{\"prompt\":\"the king\"}");
    assertThat(r.prompt()).isEqualTo("the king");
    assertThat(r.promptIds()).containsExactly(teacher.encode("the king"));
    assertThat(r.params().n()).isEqualTo(1);
    assertThat(r.params().maxTokens()).isEqualTo(16);
    assertThat(r.logprobs()).isEqualTo(-1);
    assertThat(r.echo()).isFalse();
    assertThat(r.stream()).isFalse();
    assertThat(r.usageChunk()).isFalse();
  }

  @Test
  void theUsageChunkIsAskedOnlyOfAStream() throws ApiError {
    String usage = "\"stream_options\":{\"include_usage\":true}";
    assertThat(parse("{\"prompt\":\"a\",\"stream\":true," + usage + "}").usageChunk()).isTrue();
    assertThat(parse("{\"prompt\":\"a\"," + usage + "}").usageChunk()).isFalse();
    CompletionsRequest r = parse("{\"prompt\":\"ab\",\"logprobs\":4,\"echo\":true,\"n\":3}");
    assertThat(r.logprobs()).isEqualTo(4);
    assertThat(r.echo()).isTrue();
    assertThat(r.params().n()).isEqualTo(3);
  }

  @Test
  void eachInvalidFieldIs400NamingIt() {
    String[][] cases = {
      {"{}", "prompt must be a string"},
      {"{\"prompt\":[\"a\",\"b\"]}", "prompt must be a string (one prompt per request)"},
      {"{\"prompt\":\"a\",\"logprobs\":5}", "logprobs must be at most 4"},
      {"{\"prompt\":\"a\",\"max_tokens\":33}", "max_tokens must be in [0, 32]"},
      {"{\"prompt\":\"a\",\"echo\":1}", "echo must be true or false"},
      {
        "{\"prompt\":\"a\",\"stream\":true,\"stream_options\":1}",
        "stream_options must be an object"
      },
      {"{\"prompt\":\"abcdefghijk\",\"echo\":true}", "echo scores at most 9 prompt tokens"},
    };
    for (String[] c : cases) {
      assertThatThrownBy(() -> parse(c[0]))
          .as(c[0])
          .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.status).isEqualTo(400))
          .hasMessageContaining(c[1]);
    }
  }

  @Test
  void chatRequestsRefuseToolsAndBadMessagesBeforeTheTemplateAndNameAMissingTemplate() {
    String[][] cases = {
      {
        "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"tools\":[]}",
        "tools is not supported"
      },
      {"{\"messages\":[]}", "messages must be a non-empty array"},
      // the char GPT's tokenizer has no chat template
      {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", "has no chat template"},
    };
    for (String[] c : cases) {
      JsonObject o = JsonParser.parseString(c[0]).getAsJsonObject();
      assertThatThrownBy(() -> ChatCompletionsRequest.parse(o, gens, teacher, CONFIG))
          .as(c[0])
          .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.status).isEqualTo(400))
          .hasMessageContaining(c[1]);
    }
  }
}
