package dev.distill.models.generation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.util.PairList;
import dev.distill.models.gpt.Gpt;
import dev.distill.models.gpt.GptConfig;
import dev.distill.models.gpt.LanguageModel;
import dev.distill.models.hf.HfConfig;
import dev.distill.models.hf.HfDecoder;
import dev.distill.models.nn.CausalLm;
import dev.distill.models.nn.LinearMode;
import dev.distill.models.nn.Quantizers;
import java.util.Set;

/**
 * A snapshot of a model's weights as {@code float[]} for {@link CpuDecoder}: every block linear
 * layer's effective weight transposed to (in, out), the norms, embeddings and head. Copied once
 * from the engine's parameters; a model trained afterwards is not seen by this snapshot.
 *
 * <p>Families: our {@link Gpt} (LayerNorm, learned positions, exact GELU) and {@link HfDecoder}'s
 * GPT-2 (the same, GELU exact or tanh) and Llama family (RMSNorm, RoPE, grouped-query attention,
 * SwiGLU, optional q/k/v, output and MLP biases, tied or untied head). Linear modes: {@link
 * LinearMode#DENSE}; {@link LinearMode#LOW_RANK} as {@code U V}; {@link
 * LinearMode#SELF_COMPRESSING} as the quantised weight the engine computes ({@link
 * Quantizers#selfCompress}). The modes that quantise activations to 8 bits ({@link
 * LinearMode#TERNARY}, {@link LinearMode#ACT8}) are not supported: the engine and this path compute
 * activations that differ in the last bit, and one that sits on a rounding boundary of the
 * quantiser moves the logits by a whole quantum (about 1e-2), so no parity bound holds.
 */
final class CpuModel {

  /**
   * Largest model copied: 2^24 weights (64 MiB of floats). The copy doubles the weights' memory and
   * one Java thread's matrix-vector products lose to the engine's threaded GEMV on big layers.
   */
  static final long MAX_WEIGHTS = 1L << 24;

  private static final Set<LinearMode> MODES =
      Set.of(LinearMode.DENSE, LinearMode.LOW_RANK, LinearMode.SELF_COMPRESSING);

  enum Norm {
    LAYER,
    RMS
  }

  enum Act {
    GELU,
    GELU_TANH,
    SWIGLU
  }

  /** One block; {@code *T} are transposed weights (in, out); biases may be null. */
  record Layer(
      float[] n1w,
      float[] n1b,
      float[][] qkvT,
      float[] qkvB,
      float[][] oT,
      float[] oB,
      float[] n2w,
      float[] n2b,
      float[][] gateT,
      float[] gateB,
      float[][] upT,
      float[] upB,
      float[][] downT,
      float[] downB) {}

  final int vocab;
  final int width;
  final int nHead;
  final int nKvHead;
  final int headSize;
  final int inner;
  final int blockSize;
  final Norm norm;
  final float eps;
  final Act act;
  final Layer[] layers;
  final float[] nfw;
  final float[] nfb;

  /** Token embedding (rows, width). */
  final float[] embed;

  /** Learned position embedding (positions, width), or null (RoPE). */
  final float[] positions;

  /**
   * RoPE's inverse frequencies (headSize / 2), or null (learned positions); the angles of a
   * position are computed per step, not tabled for every position of a long context.
   */
  final float[] ropeInvFreq;

  /** The head transposed: (width, vocab), decodable ids only. */
  final float[][] headT;

  /** Multiply-adds per position of the linear layers and head. */
  final long macsPerToken;

  /**
   * Why {@code lm} cannot decode on this path, or null if it can: another family, a linear mode
   * that quantises activations, more than {@link #MAX_WEIGHTS} parameters, or a vocabulary wider
   * than the embedding.
   */
  static String unsupported(LanguageModel lm) {
    CausalLm block = lm.block();
    if (!(block instanceof Gpt) && !(block instanceof HfDecoder)) {
      return "family " + block.getClass().getSimpleName() + " has no Java decoding path";
    }
    if (!MODES.contains(lm.mode())) {
      return "linear mode " + lm.mode() + " quantises activations (no parity bound on this path)";
    }
    if (lm.config().parameterCount() > MAX_WEIGHTS) {
      return lm.config().parameterCount()
          + " parameters exceed the Java decoding limit of "
          + MAX_WEIGHTS;
    }
    return null;
  }

  /** Copies the weights of {@code lm} (see {@link #unsupported}: must be null). */
  static CpuModel snapshot(LanguageModel lm) {
    String why = unsupported(lm);
    if (why != null) {
      throw new IllegalArgumentException(why);
    }
    return new CpuModel(lm);
  }

  private final PairList<String, Parameter> params;
  private final LinearMode mode;
  private final NDManager manager;

  private CpuModel(LanguageModel lm) {
    CausalLm block = lm.block();
    params = block.getParameters();
    manager = lm.model().getNDManager();
    mode = lm.mode();
    vocab = lm.vocabSize();
    long macs = 0;
    if (block instanceof Gpt gpt) {
      GptConfig c = gpt.config();
      width = c.nEmbd();
      nHead = c.nHead();
      nKvHead = c.nHead();
      headSize = c.headSize();
      inner = 4 * width;
      blockSize = c.blockSize();
      norm = Norm.LAYER;
      eps = 1e-5f; // Gpt.LAYER_NORM_EPS
      act = Act.GELU;
      layers = new Layer[c.nLayer()];
      for (int i = 0; i < layers.length; i++) {
        String p = "h" + i + ".";
        layers[i] = geluLayer(p, GPT_NAMES, 3 * width, width);
      }
      nfw = get("lnF.gamma");
      nfb = get("lnF.beta");
      embed = get("wte");
      positions = get("wpe");
      ropeInvFreq = null;
      headT = transpose(embed, vocab, width);
    } else {
      HfConfig c = ((HfDecoder) block).config();
      boolean gpt2 = c.family() == HfConfig.Family.GPT2;
      width = c.hidden();
      nHead = c.nHead();
      nKvHead = c.nKvHead();
      headSize = c.headDim();
      inner = c.intermediate();
      blockSize = c.maxPositions();
      norm = gpt2 ? Norm.LAYER : Norm.RMS;
      eps = c.normEps();
      act = gpt2 ? (c.activation().equals("gelu") ? Act.GELU : Act.GELU_TANH) : Act.SWIGLU;
      int q = nHead * headSize;
      int kv = nKvHead * headSize;
      layers = new Layer[c.nLayer()];
      for (int i = 0; i < layers.length; i++) {
        if (gpt2) {
          String p = "transformer.h." + i + ".";
          layers[i] = geluLayer(p, GPT2_NAMES, q + 2 * kv, q);
        } else {
          String p = "model.layers." + i + ".";
          String a = p + "self_attn.";
          layers[i] =
              new Layer(
                  get(p + "input_layernorm.weight"),
                  null,
                  concatColumns(
                      linear(a + "q_proj", q, width),
                      q,
                      linear(a + "k_proj", kv, width),
                      kv,
                      linear(a + "v_proj", kv, width),
                      kv,
                      width),
                  concat(get(a + "q_proj.bias"), get(a + "k_proj.bias"), get(a + "v_proj.bias")),
                  linear(a + "o_proj", width, q),
                  get(a + "o_proj.bias"),
                  get(p + "post_attention_layernorm.weight"),
                  null,
                  linear(p + "mlp.gate_proj", inner, width),
                  get(p + "mlp.gate_proj.bias"),
                  linear(p + "mlp.up_proj", inner, width),
                  get(p + "mlp.up_proj.bias"),
                  linear(p + "mlp.down_proj", width, inner),
                  get(p + "mlp.down_proj.bias"));
        }
      }
      String pre = gpt2 ? "transformer." : "model.";
      nfw = get(pre + (gpt2 ? "ln_f.weight" : "norm.weight"));
      nfb = gpt2 ? get("transformer.ln_f.bias") : null;
      embed = get(gpt2 ? "transformer.wte.weight" : "model.embed_tokens.weight");
      positions = gpt2 ? get("transformer.wpe.weight") : null;
      if (gpt2) {
        ropeInvFreq = null;
      } else {
        ropeInvFreq = new float[headSize / 2];
        for (int i = 0; i < ropeInvFreq.length; i++) {
          // as Rope (and transformers): inv_freq in float32
          ropeInvFreq[i] = (float) (1.0 / Math.pow(c.ropeTheta(), (2.0 * i) / headSize));
        }
      }
      String headName =
          c.tiedEmbeddings()
              ? (gpt2 ? "transformer.wte.weight" : "model.embed_tokens.weight")
              : "lm_head.weight";
      headT = transpose(c.tiedEmbeddings() ? embed : get(headName), vocab, width);
    }
    for (Layer l : layers) {
      macs += size(l.qkvT) + size(l.oT) + size(l.upT) + size(l.downT) + size(l.gateT);
    }
    macsPerToken = macs + size(headT);
  }

  /**
   * Parameter names in a GPT-shaped block (after the block's prefix): norm 1 weight and bias, fused
   * q/k/v, projection, norm 2 weight and bias, MLP in, MLP out; every linear layer has {@code
   * name.bias}.
   */
  private static final String[] GPT_NAMES = {
    "ln1.gamma", "ln1.beta", "attn", "attnProj", "ln2.gamma", "ln2.beta", "fc", "mlpProj"
  };

  private static final String[] GPT2_NAMES = {
    "ln_1.weight",
    "ln_1.bias",
    "attn.c_attn",
    "attn.c_proj",
    "ln_2.weight",
    "ln_2.bias",
    "mlp.c_fc",
    "mlp.c_proj"
  };

  /**
   * A GPT-shaped block (our GPT, GPT-2) under {@code prefix} with {@code names} (as {@link
   * #GPT_NAMES}): LayerNorm, fused q/k/v of {@code nq} outputs, projection from {@code q},
   * LayerNorm, GELU MLP.
   */
  private Layer geluLayer(String prefix, String[] names, int nq, int q) {
    String[] n = new String[names.length];
    for (int i = 0; i < n.length; i++) {
      n[i] = prefix + names[i];
    }
    return new Layer(
        get(n[0]),
        get(n[1]),
        linear(n[2], nq, width),
        get(n[2] + ".bias"),
        linear(n[3], width, q),
        get(n[3] + ".bias"),
        get(n[4]),
        get(n[5]),
        null,
        null,
        linear(n[6], inner, width),
        get(n[6] + ".bias"),
        linear(n[7], width, inner),
        get(n[7] + ".bias"));
  }

  private static long size(float[][] a) {
    return a == null ? 0 : (long) a.length * a[0].length;
  }

  /** A parameter's values, or null when the model has no parameter of that name. */
  private float[] get(String name) {
    Parameter p = params.get(name);
    return p == null ? null : p.getArray().toFloatArray();
  }

  /**
   * The effective weight (out, in) of block linear layer {@code name}, transposed to (in, out). The
   * engine computes it for the compressed modes (a low-rank product, the self-compressing
   * quantiser: the same ops as its own forward) on copies of the parameters in a scratch manager.
   */
  private float[][] linear(String name, int out, int in) {
    float[] w;
    if (mode == LinearMode.DENSE) {
      w = get(name + ".weight");
    } else {
      try (NDManager m = manager.newSubManager()) {
        NDArray a =
            mode == LinearMode.LOW_RANK
                ? copy(m, name + ".u").matMul(copy(m, name + ".v"))
                : Quantizers.selfCompress(
                    copy(m, name + ".weight"), copy(m, name + ".bits"), copy(m, name + ".exp"));
        w = a.toFloatArray();
      }
    }
    if (w.length != out * in) {
      throw new IllegalStateException(name + " has " + w.length + " weights, expected " + out * in);
    }
    return transpose(w, out, in);
  }

  /**
   * The first {@code rows} rows of {@code a} (row-major, {@code cols} wide) transposed: cols rows
   * of {@code rows} values, in 16 x 16 tiles so reads and writes stay in cache. (The engine's
   * transpose plus read-back of a non-contiguous view took 3 to 13 ms in a one-off probe for the
   * demo teacher's weights, against 0.3 ms for reading them as they are.)
   */
  static float[][] transpose(float[] a, int rows, int cols) {
    float[][] t = new float[cols][rows];
    for (int r0 = 0; r0 < rows; r0 += 16) {
      int r1 = Math.min(rows, r0 + 16);
      for (int c0 = 0; c0 < cols; c0 += 16) {
        int c1 = Math.min(cols, c0 + 16);
        for (int c = c0; c < c1; c++) {
          float[] tc = t[c];
          for (int r = r0; r < r1; r++) {
            tc[r] = a[r * cols + c];
          }
        }
      }
    }
    return t;
  }

  /** A copy of parameter {@code name} on {@code m} (no gradient, freed with m). */
  private NDArray copy(NDManager m, String name) {
    NDArray p = params.get(name).getArray();
    return m.create(p.toFloatArray(), p.getShape());
  }

  /** Side by side, (in, a + b + c), of three transposed weights (in, a), (in, b), (in, c). */
  private static float[][] concatColumns(
      float[][] x, int a, float[][] y, int b, float[][] z, int c, int in) {
    float[][] out = new float[in][a + b + c];
    for (int i = 0; i < in; i++) {
      System.arraycopy(x[i], 0, out[i], 0, a);
      System.arraycopy(y[i], 0, out[i], a, b);
      System.arraycopy(z[i], 0, out[i], a + b, c);
    }
    return out;
  }

  private static float[] concat(float[] a, float[] b, float[] c) {
    if (a == null) {
      return null;
    }
    float[] out = new float[a.length + b.length + c.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    System.arraycopy(c, 0, out, a.length + b.length, c.length);
    return out;
  }
}
