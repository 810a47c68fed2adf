package dev.distill.models.tokenizer;

import static dev.distill.models.tokenizer.HfFixtures.BPE;
import static dev.distill.models.tokenizer.HfFixtures.ints;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.distill.models.tokenizer.ChatTemplate.Message;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ChatTemplateTest extends BpeTokenizerFixture {
  static ChatTemplate chatMl;

  @BeforeAll
  static void load() {
    chatMl = ChatTemplate.of(bpe);
  }

  @Test
  void twoTurnConversationRendersAsChatMl() {
    List<Message> chat =
        List.of(
            new Message("user", "Who is the First Citizen?"), new Message("assistant", "A Roman."));
    assertThat(chatMl.render(chat, false))
        .isEqualTo(
            "<|im_start|>user\nWho is the First Citizen?<|im_end|>\n"
                + "<|im_start|>assistant\nA Roman.<|im_end|>\n");
    assertThat(chatMl.render(chat, true))
        .isEqualTo(
            "<|im_start|>user\nWho is the First Citizen?<|im_end|>\n"
                + "<|im_start|>assistant\nA Roman.<|im_end|>\n"
                + "<|im_start|>assistant\n");
  }

  @Test
  void fixtureConversationRendersAsJinja2DidAndEncodesToItsIds() throws Exception {
    JsonObject chat = HfFixtures.expected(BPE).getAsJsonObject("chat");
    List<Message> messages = new ArrayList<>();
    for (JsonElement m : chat.getAsJsonArray("messages")) {
      messages.add(
          new Message(
              m.getAsJsonObject().get("role").getAsString(),
              m.getAsJsonObject().get("content").getAsString()));
    }
    String rendered = chatMl.render(messages, chat.get("add_generation_prompt").getAsBoolean());
    assertThat(rendered).isEqualTo(chat.get("rendered").getAsString());
    assertThat(bpe.encode(rendered)).containsExactly(ints(chat.getAsJsonArray("ids")));
  }

  @Test
  void specialTokensOfTheTokenizerAreVariables() {
    assertThat(chatMl.specialTokens())
        .containsEntry("bos_token", "<|endoftext|>")
        .containsEntry("eos_token", "<|endoftext|>")
        .containsEntry("pad_token", "<|pad|>")
        .doesNotContainKey("unk_token");
    ChatTemplate t =
        new ChatTemplate(
            "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}",
            chatMl.specialTokens());
    assertThat(t.render(List.of(new Message("user", "hi")), false))
        .isEqualTo("<|endoftext|>hi<|endoftext|>");
  }

  @Test
  void blocksAreTrimmedAndLeftStrippedAndOneTrailingNewlineDroppedAsInTransformers() {
    // trim_blocks, lstrip_blocks, keep_trailing_newline=False: what jinja2 renders for this
    // template in transformers' environment.
    ChatTemplate t =
        new ChatTemplate(
            "{% for m in messages %}\n    {% if m.role == 'user' %}\nU: {{ m.content }}\n"
                + "    {% else %}\nA: {{ m.content }}\n    {% endif %}\n{% endfor %}\n"
                + "{% if add_generation_prompt %}\nA:{% endif %}\n",
            Map.of());
    List<Message> chat = List.of(new Message("user", "a"), new Message("assistant", "b"));
    assertThat(t.render(chat, true)).isEqualTo("U: a\nA: b\nA:");
    assertThat(t.render(chat, false)).isEqualTo("U: a\nA: b\n");
  }

  @Test
  void raiseExceptionFailsTheRenderingWithItsMessage() {
    ChatTemplate t =
        new ChatTemplate(
            "{% for m in messages %}{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}"
                + "{{ raise_exception('Conversation roles must alternate user/assistant') }}"
                + "{% endif %}{{ m.content }}{% endfor %}",
            Map.of());
    assertThat(t.render(List.of(new Message("user", "a"), new Message("assistant", "b")), false))
        .isEqualTo("ab");
    assertThatThrownBy(
            () -> t.render(List.of(new Message("assistant", "a"), new Message("user", "b")), false))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("Conversation roles must alternate user/assistant");
  }

  @Test
  void aTemplateErrorFailsWithLineAndReasonNeverAPartialRendering() {
    ChatTemplate t = new ChatTemplate("ok\n{% for m in messages %}{{ m.content }}", Map.of());
    assertThatThrownBy(() -> t.render(List.of(new Message("user", "a")), false))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("chat template failed")
        .hasMessageContaining("line")
        .hasMessageContaining("endfor");
  }

  @Test
  void pythonStringMethodsWorkOnStrings() {
    ChatTemplate t =
        new ChatTemplate(
            "{% set c = messages[0].content %}"
                + "{{ c.startswith('  <think>') }} {{ c.endswith(('x', '</a>  ')) }}"
                + " [{{ c.strip() }}] [{{ c.lstrip() }}] [{{ c.rstrip(' >a/') }}]"
                + " {{ c.split('</think>')[-1].strip() }} {{ c.split()|length }}"
                + " {{ 'a,b,,c'.split(',', 1)|length }} {{ 'Ab c'.lower() }} {{ 'ab'.upper() }}"
                + " {{ 'hello wORLD'.title() }} {{ 'hello World'.capitalize() }}",
            Map.of());
    assertThat(t.render(List.of(new Message("user", "  <think>x</think> <a>hi</a>  ")), false))
        .isEqualTo(
            "true true [<think>x</think> <a>hi</a>] [<think>x</think> <a>hi</a>  ]"
                + " [  <think>x</think> <a>hi<] <a>hi</a> 2 2 ab c AB Hello World Hello world");
  }

  @Test
  void extraVariablesMayNotReplaceMessagesOrTheGenerationFlag() {
    assertThatThrownBy(() -> chatMl.render(List.of(), false, Map.of("messages", List.of())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("messages");
    ChatTemplate t =
        new ChatTemplate("{{ enable_thinking }}{{ bos_token }}", Map.of("bos_token", "<s>"));
    assertThat(t.render(List.of(), false, Map.of("enable_thinking", false, "bos_token", "B")))
        .isEqualTo("falseB");
  }

  @Test
  void aTokenizerWithoutATemplateIsRefused() {
    assertThatThrownBy(() -> ChatTemplate.of(CharTokenizer.fromCorpus("abc")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no chat template");
  }
}
