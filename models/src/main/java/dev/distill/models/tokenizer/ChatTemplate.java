package dev.distill.models.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * A Hugging Face chat template ({@code tokenizer_config.json}'s Jinja {@code chat_template})
 * rendered by Jinjava as {@code transformers}' {@code apply_chat_template(messages, tokenize=False,
 * add_generation_prompt=...)} renders it with Jinja2, so that an instruction-tuned teacher gets its
 * prompts the way it was trained.
 *
 * <p>As in {@code transformers} ({@code utils/chat_template_utils.py}): the environment has {@code
 * trim_blocks} and {@code lstrip_blocks}, Jinja2's default of dropping one trailing newline of the
 * template source, the variables {@code messages} (a list of {@code {role, content}}), {@code
 * add_generation_prompt} and the special tokens ({@code bos_token}, {@code eos_token}, {@code
 * pad_token}, {@code unk_token}, where the tokenizer has them), and the function {@code
 * raise_exception(message)}, which fails the rendering with that message. Python's string methods
 * that templates call ({@code startswith}, {@code endswith}, {@code strip}, {@code lstrip}, {@code
 * rstrip}, {@code split}, {@code lower}, {@code upper}, {@code title}, {@code capitalize}) work on
 * strings; Jinjava lacks them.
 *
 * <p>Jinjava collects template errors instead of throwing them: {@link #render} fails with every
 * error of severity ERROR or FATAL (line and reason), never returns a partial rendering.
 *
 * <p>Immutable and thread-safe (Jinjava creates one interpreter per rendering).
 */
public final class ChatTemplate {

  /** One chat message. */
  public record Message(String role, String content) {
    public Message {
      Objects.requireNonNull(role, "role");
      Objects.requireNonNull(content, "content");
    }
  }

  private static final Jinjava JINJAVA = newJinjava();
  private static final Pattern TRAILING_NEWLINE = Pattern.compile("(\r\n|\r|\n)\\z");

  private final String source;
  private final Map<String, String> specialTokens;

  /**
   * @param source the Jinja template
   * @param specialTokens variables such as {@code bos_token -> "<s>"}
   */
  public ChatTemplate(String source, Map<String, String> specialTokens) {
    this.source = Objects.requireNonNull(source, "source");
    this.specialTokens = Map.copyOf(specialTokens);
  }

  /**
   * The chat template of {@code tokenizer}, with its BOS/EOS/PAD/UNK token strings as {@code
   * bos_token}, {@code eos_token}, {@code pad_token}, {@code unk_token}.
   *
   * @throws IllegalArgumentException when the tokenizer has no chat template
   */
  public static ChatTemplate of(Tokenizer tokenizer) {
    String template =
        tokenizer
            .chatTemplate()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "tokenizer " + tokenizer.id() + " has no chat template"));
    Tokenizer.SpecialTokens s = tokenizer.specialTokens();
    Map<String, String> vars = new LinkedHashMap<>();
    putToken(vars, "bos_token", s.bos(), tokenizer);
    putToken(vars, "eos_token", s.eos(), tokenizer);
    putToken(vars, "pad_token", s.pad(), tokenizer);
    putToken(vars, "unk_token", s.unk(), tokenizer);
    return new ChatTemplate(template, vars);
  }

  private static void putToken(
      Map<String, String> vars, String name, OptionalInt id, Tokenizer tokenizer) {
    if (id.isPresent()) {
      vars.put(name, tokenizer.token(id.getAsInt()));
    }
  }

  public String source() {
    return source;
  }

  /** The special-token variables the template sees. */
  public Map<String, String> specialTokens() {
    return specialTokens;
  }

  /** {@link #render(List, boolean, Map)} with no other variables. */
  public String render(List<Message> messages, boolean addGenerationPrompt) {
    return render(messages, addGenerationPrompt, Map.of());
  }

  /**
   * Renders the conversation.
   *
   * @param extraVariables further template variables (e.g. {@code tools}, {@code enable_thinking});
   *     they may override a special token, as keyword arguments of {@code apply_chat_template} do,
   *     but not {@code messages} or {@code add_generation_prompt}
   * @throws IllegalArgumentException with the template's errors (line and reason) or the message of
   *     its {@code raise_exception}
   */
  public String render(
      List<Message> messages, boolean addGenerationPrompt, Map<String, ?> extraVariables) {
    for (String reserved : List.of("messages", "add_generation_prompt")) {
      if (extraVariables.containsKey(reserved)) {
        throw new IllegalArgumentException(
            "'" + reserved + "' is set by render's own arguments, not by extraVariables");
      }
    }
    List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
    for (Message m : messages) {
      Map<String, Object> o = new LinkedHashMap<>();
      o.put("role", m.role());
      o.put("content", m.content());
      msgs.add(o);
    }
    Map<String, Object> context = new HashMap<>(specialTokens);
    context.putAll(extraVariables);
    context.put("messages", msgs);
    context.put("add_generation_prompt", addGenerationPrompt);
    // Jinja2's keep_trailing_newline=False drops one newline at the end of the template source.
    String template = TRAILING_NEWLINE.matcher(source).replaceFirst("");
    RenderResult result = JINJAVA.renderForResult(template, context);
    List<String> errors = new ArrayList<>();
    for (TemplateError e : result.getErrors()) {
      if (e.getSeverity() == TemplateError.ErrorType.WARNING) {
        continue;
      }
      Raised raised = raisedIn(e.getException());
      if (raised != null) {
        throw new IllegalArgumentException(
            "chat template raised an exception: " + raised.getMessage(), raised);
      }
      errors.add("line " + e.getLineno() + ": " + e.getReason() + ": " + e.getMessage());
    }
    if (!errors.isEmpty()) {
      throw new IllegalArgumentException("chat template failed: " + String.join("; ", errors));
    }
    return result.getOutput();
  }

  private static Raised raisedIn(Throwable t) {
    for (Throwable x = t; x != null; x = x.getCause()) {
      if (x instanceof Raised r) {
        return r;
      }
    }
    return null;
  }

  /** What the template's {@code raise_exception(message)} throws. */
  private static final class Raised extends RuntimeException {
    Raised(String message) {
      super(message);
    }
  }

  /** Called by templates as {@code raise_exception(message)}. */
  public static String raiseException(String message) {
    throw new Raised(message);
  }

  private static Jinjava newJinjava() {
    CompositeELResolver resolver = new CompositeELResolver();
    resolver.add(new PythonStringMethods());
    resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
    Jinjava jinjava =
        new Jinjava(
            JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withKeepTrailingNewline(true) // the source's own is dropped in render, as Jinja2
                .withElResolver(resolver)
                .build());
    jinjava.registerFunction(
        new ELFunctionDefinition(
            "", "raise_exception", ChatTemplate.class, "raiseException", String.class));
    return jinjava;
  }

  /**
   * Python {@code str} methods that chat templates call, for Java strings (Jinjava resolves methods
   * on the Java class, which has no {@code startswith}, {@code lstrip}, ...).
   */
  static final class PythonStringMethods extends ELResolver {
    @Override
    public Object invoke(
        ELContext context, Object base, Object method, Class<?>[] types, Object[] params) {
      if (!(base instanceof String s) || method == null) {
        return null;
      }
      Object[] p = params == null ? new Object[0] : params;
      Object out =
          switch (method.toString()) {
            case "startswith" -> anyOf(p, 0).stream().anyMatch(s::startsWith);
            case "endswith" -> anyOf(p, 0).stream().anyMatch(s::endsWith);
            case "strip" -> rstrip(lstrip(s, chars(p)), chars(p));
            case "lstrip" -> lstrip(s, chars(p));
            case "rstrip" -> rstrip(s, chars(p));
            case "split" -> split(s, p);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "capitalize" ->
                s.isEmpty()
                    ? s
                    : s.substring(0, 1).toUpperCase(Locale.ROOT)
                        + s.substring(1).toLowerCase(Locale.ROOT);
            case "title" -> title(s);
            default -> null;
          };
      if (out != null) {
        context.setPropertyResolved(true);
      }
      return out;
    }

    /** A prefix argument: a string, or a tuple/list of strings as Python accepts. */
    private static List<String> anyOf(Object[] p, int i) {
      if (p.length <= i) {
        throw new IllegalArgumentException("missing argument");
      }
      if (p[i] instanceof Collection<?> c) {
        return c.stream().map(String::valueOf).collect(Collectors.toList());
      }
      return List.of(String.valueOf(p[i]));
    }

    /** The characters to strip; null for whitespace (Python's default). */
    private static String chars(Object[] p) {
      return p.length == 0 || p[0] == null ? null : String.valueOf(p[0]);
    }

    private static boolean strippable(int cp, String chars) {
      return chars == null ? Character.isWhitespace(cp) : chars.indexOf(cp) >= 0;
    }

    private static String lstrip(String s, String chars) {
      int i = 0;
      while (i < s.length() && strippable(s.codePointAt(i), chars)) {
        i += Character.charCount(s.codePointAt(i));
      }
      return s.substring(i);
    }

    private static String rstrip(String s, String chars) {
      int j = s.length();
      while (j > 0 && strippable(s.codePointBefore(j), chars)) {
        j -= Character.charCount(s.codePointBefore(j));
      }
      return s.substring(0, j);
    }

    /** Python's {@code split(sep=None, maxsplit=-1)}. */
    private static List<String> split(String s, Object[] p) {
      String sep = p.length == 0 || p[0] == null ? null : String.valueOf(p[0]);
      int max = p.length > 1 && p[1] instanceof Number n ? n.intValue() : -1;
      if (sep == null) {
        String t = s.strip();
        if (t.isEmpty()) {
          return new ArrayList<>();
        }
        return new ArrayList<>(Arrays.asList(t.split("\\s+", max < 0 ? -1 : max + 1)));
      }
      if (sep.isEmpty()) {
        throw new IllegalArgumentException("empty separator");
      }
      return new ArrayList<>(Arrays.asList(s.split(Pattern.quote(sep), max < 0 ? -1 : max + 1)));
    }

    private static String title(String s) {
      StringBuilder b = new StringBuilder(s.length());
      boolean prevCased = false;
      for (int i = 0; i < s.length(); ) {
        int cp = s.codePointAt(i);
        b.appendCodePoint(prevCased ? Character.toLowerCase(cp) : Character.toTitleCase(cp));
        prevCased = Character.isLetter(cp);
        i += Character.charCount(cp);
      }
      return b.toString();
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
      return null;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
      return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
      return null;
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
      return null;
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
      return true;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {}
  }
}
