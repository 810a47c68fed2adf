"""Tiny random Hugging Face decoder-only checkpoints and their reference logits.

Usage (from the repository root, after train_bpe.py):
    /usr/bin/python3 models/src/test/python/make_hf_checkpoints.py

Writes models/src/test/resources/hf/{gpt2,llama,qwen2}/ with config.json (the keys transformers
v4.46.3 writes for the architecture, sorted, indent 2), generation_config.json, weights in
safetensors (written by safetensors_io.py), the tokenizer files of hf/bpe-shakespeare, and
reference.safetensors = {input_ids I64 [2,12], logits F32 [2,12,vocab_size], greedy_ids I64 [2,8]}.

The forwards below are plain PyTorch in float32 (weights upcast from their stored dtype), written
to follow the Hugging Face modeling code of transformers v4.46.3:
  src/transformers/models/gpt2/modeling_gpt2.py   (GPT2LMHeadModel, eager attention)
  src/transformers/models/llama/modeling_llama.py (LlamaForCausalLM, eager attention)
  src/transformers/models/qwen2/modeling_qwen2.py (Qwen2ForCausalLM, eager attention)
"""
import json
import math
import os
import shutil

import torch

from bytelevel_bpe import ByteLevelBPE, write_json
from safetensors_io import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
HF = os.path.join(ROOT, "models", "src", "test", "resources", "hf")
TOK_DIR = os.path.join(HF, "bpe-shakespeare")
CORPUS = os.path.join(ROOT, "deploy", "src", "main", "resources", "corpus", "tinyshakespeare.txt")
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
TRANSFORMERS_VERSION = "4.46.3"
SEQ, NEW_TOKENS, CONTEXT = 12, 8, 64
SEED = 1234


# ---------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------

def causal_softmax_attention(q, k, v):
    """q, k, v: [B, H, T, hd]. softmax(q k^T / sqrt(hd) + causal mask) v, softmax in float32
    (modeling_llama.py eager_attention / LlamaAttention.forward; GPT2Attention._attn masks with
    torch.finfo(dtype).min, the same after softmax)."""
    t = q.shape[2]
    att = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    mask = torch.ones(t, t, dtype=torch.bool).tril()
    att = att.masked_fill(~mask, torch.finfo(att.dtype).min)
    return torch.softmax(att.float(), dim=-1) @ v


def heads(x, n):  # [B, T, n*hd] -> [B, n, T, hd]
    b, t, c = x.shape
    return x.view(b, t, n, c // n).transpose(1, 2)


def merge_heads(x):  # [B, n, T, hd] -> [B, T, n*hd]
    b, n, t, hd = x.shape
    return x.transpose(1, 2).reshape(b, t, n * hd)


def rand(g, *shape, std):
    return torch.randn(*shape, generator=g) * std


# ---------------------------------------------------------------------------------------------
# GPT-2 (modeling_gpt2.py v4.46.3)
# ---------------------------------------------------------------------------------------------

def gelu_new(x):
    # ACT2FN["gelu_new"] = NewGELUActivation (activations.py): the tanh approximation.
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def gpt2_config(vocab, bos, eos):
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": bos,
        "embd_pdrop": 0.1,
        "eos_token_id": eos,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_embd": 64,
        "n_head": 4,
        "n_inner": None,
        "n_layer": 2,
        "n_positions": CONTEXT,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": vocab,
    }


def gpt2_weights(cfg, g):
    d, v = cfg["n_embd"], cfg["vocab_size"]
    inner = cfg["n_inner"] or 4 * d
    # Small token embeddings and a large final norm gain: with a tied head, large embeddings
    # make every greedy step repeat the last token, which would not exercise a KV cache.
    w = {"transformer.wte.weight": rand(g, v, d, std=0.1),
         "transformer.wpe.weight": rand(g, cfg["n_positions"], d, std=0.5),
         "transformer.ln_f.weight": 3 * (1 + rand(g, d, std=0.1)),
         "transformer.ln_f.bias": rand(g, d, std=0.1)}
    for i in range(cfg["n_layer"]):
        p = "transformer.h.%d." % i
        # Conv1D stores its weight as (in_features, out_features): y = x @ W + b.
        for name, (fi, fo) in {"attn.c_attn": (d, 3 * d), "attn.c_proj": (d, d),
                               "mlp.c_fc": (d, inner), "mlp.c_proj": (inner, d)}.items():
            w[p + name + ".weight"] = rand(g, fi, fo, std=1 / math.sqrt(fi))
            w[p + name + ".bias"] = rand(g, fo, std=0.1)
        for ln in ("ln_1", "ln_2"):
            w[p + ln + ".weight"] = 1 + rand(g, d, std=0.1)
            w[p + ln + ".bias"] = rand(g, d, std=0.1)
    return w  # lm_head.weight is tied to transformer.wte.weight and not saved


def gpt2_forward(cfg, w, ids):
    w = {k: t.float() for k, t in w.items()}
    d, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (d,), w[p + ".weight"], w[p + ".bias"], eps)
    conv1d = lambda x, p: x @ w[p + ".weight"] + w[p + ".bias"]
    t = ids.shape[1]
    h = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][torch.arange(t)]
    for i in range(cfg["n_layer"]):
        p = "transformer.h.%d." % i
        q, k, v = conv1d(ln(h, p + "ln_1"), p + "attn.c_attn").split(d, dim=2)
        a = causal_softmax_attention(heads(q, nh), heads(k, nh), heads(v, nh))
        h = h + conv1d(merge_heads(a), p + "attn.c_proj")
        m = gelu_new(conv1d(ln(h, p + "ln_2"), p + "mlp.c_fc"))
        h = h + conv1d(m, p + "mlp.c_proj")
    h = ln(h, "transformer.ln_f")
    return h @ w["transformer.wte.weight"].t()


# ---------------------------------------------------------------------------------------------
# Llama / Qwen2 (modeling_llama.py and modeling_qwen2.py v4.46.3)
# ---------------------------------------------------------------------------------------------

def llama_config(vocab, bos, eos):
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "head_dim": 16,
        "hidden_act": "silu",
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 176,
        "max_position_embeddings": CONTEXT,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": vocab,
    }


def qwen2_config(vocab, bos, eos):
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "hidden_act": "silu",
        "hidden_size": 64,
        "initializer_range": 0.02,
        "intermediate_size": 160,
        "max_position_embeddings": CONTEXT,
        "max_window_layers": 28,
        "model_type": "qwen2",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "sliding_window": 4096,
        "tie_word_embeddings": True,
        "torch_dtype": "float16",
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": vocab,
    }


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def llama_weights(cfg, g, qkv_bias, tokenizer_size):
    d, v, f = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    hd, nh, nkv = head_dim(cfg), cfg["num_attention_heads"], cfg["num_key_value_heads"]
    # Small embeddings and a large final norm gain (see gpt2_weights).
    emb = rand(g, v, d, std=0.1)
    # Rows past the tokenizer (vocabulary padding, as Qwen2.5 has) are made large so that an
    # unmasked argmax over the tied head would pick them: a decoder must never emit them.
    emb[tokenizer_size:] *= 3.0
    w = {"model.embed_tokens.weight": emb, "model.norm.weight": 3 * (1 + rand(g, d, std=0.1))}
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        # nn.Linear stores (out_features, in_features): y = x @ W^T (+ b).
        shapes = {"self_attn.q_proj": (nh * hd, d), "self_attn.k_proj": (nkv * hd, d),
                  "self_attn.v_proj": (nkv * hd, d), "self_attn.o_proj": (d, nh * hd),
                  "mlp.gate_proj": (f, d), "mlp.up_proj": (f, d), "mlp.down_proj": (d, f)}
        for name, (fo, fi) in shapes.items():
            w[p + name + ".weight"] = rand(g, fo, fi, std=1 / math.sqrt(fi))
        if qkv_bias:
            for name in ("q_proj", "k_proj", "v_proj"):
                w[p + "self_attn." + name + ".bias"] = rand(g, shapes["self_attn." + name][0],
                                                            std=0.1)
        w[p + "input_layernorm.weight"] = 1 + rand(g, d, std=0.1)
        w[p + "post_attention_layernorm.weight"] = 1 + rand(g, d, std=0.1)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = rand(g, v, d, std=0.5)
    return w


def rms_norm(x, weight, eps):
    # LlamaRMSNorm: in float32, x * rsqrt(mean(x^2) + eps), then times weight.
    x = x.float()
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rope_cos_sin(cfg, t):
    # LlamaRotaryEmbedding (rope_type "default"): inv_freq = 1 / theta^(2i/d), i = 0..d/2-1;
    # emb = cat(freqs, freqs).
    dim = head_dim(cfg)
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    freqs = torch.arange(t).float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x, cos, sin):  # x: [B, H, T, hd]
    return x * cos + rotate_half(x) * sin


def repeat_kv(x, n_rep):
    # [B, kvH, T, hd] -> [B, kvH*n_rep, T, hd]; query head h reads kv head h // n_rep.
    b, kvh, t, hd = x.shape
    return x[:, :, None].expand(b, kvh, n_rep, t, hd).reshape(b, kvh * n_rep, t, hd)


def llama_forward(cfg, w, ids):
    w = {k: t.float() for k, t in w.items()}
    nh, nkv, eps = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["rms_norm_eps"]
    lin = lambda x, p: x @ w[p + ".weight"].t() + (w[p + ".bias"] if p + ".bias" in w else 0)
    t = ids.shape[1]
    cos, sin = rope_cos_sin(cfg, t)
    h = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        x = rms_norm(h, w[p + "input_layernorm.weight"], eps)
        q = apply_rope(heads(lin(x, p + "self_attn.q_proj"), nh), cos, sin)
        k = apply_rope(heads(lin(x, p + "self_attn.k_proj"), nkv), cos, sin)
        v = heads(lin(x, p + "self_attn.v_proj"), nkv)
        a = causal_softmax_attention(q, repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv))
        h = h + lin(merge_heads(a), p + "self_attn.o_proj")
        x = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        m = torch.nn.functional.silu(lin(x, p + "mlp.gate_proj")) * lin(x, p + "mlp.up_proj")
        h = h + lin(m, p + "mlp.down_proj")
    h = rms_norm(h, w["model.norm.weight"], eps)
    head = w["lm_head.weight"] if "lm_head.weight" in w else w["model.embed_tokens.weight"]
    return h @ head.t()


def check_rope_against_complex(cfg, g):
    """Independent RoPE: pair (x_i, x_{i+d/2}) as the complex number x_i + j x_{i+d/2} and
    multiply by exp(j * pos * theta^(-2i/d)) (RoFormer, Su et al. 2021, eq. 34 in half-split
    layout)."""
    dim, t = head_dim(cfg), 10
    x = torch.randn(1, 2, t, dim, generator=g, dtype=torch.float64)
    cos, sin = rope_cos_sin(cfg, t)
    ours = apply_rope(x.float(), cos, sin).double()
    half = dim // 2
    z = torch.complex(x[..., :half], x[..., half:])
    i = torch.arange(half, dtype=torch.float64)
    angle = torch.arange(t, dtype=torch.float64)[:, None] * cfg["rope_theta"] ** (-2 * i / dim)
    r = z * torch.polar(torch.ones_like(angle), angle)
    ref = torch.cat((r.real, r.imag), dim=-1)
    err = (ours - ref).abs().max().item()
    assert err < 1e-5, "RoPE differs from the complex-multiplication form by %g" % err
    return err


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------

def greedy(forward, cfg, w, ids, n, tokenizer_size):
    """n greedy tokens per row by repeated full forwards; argmax over ids < tokenizer_size
    (never an id the tokenizer cannot decode). Returns ids, the smallest top-1/top-2 margin,
    and whether an unmasked argmax would have chosen a padding id at some step."""
    seqs, margin, padded_wins = ids.clone(), float("inf"), False
    out = []
    for _ in range(n):
        logits = forward(cfg, w, seqs)[:, -1]
        top2 = logits[:, :tokenizer_size].topk(2, dim=-1)
        margin = min(margin, (top2.values[:, 0] - top2.values[:, 1]).min().item())
        padded_wins |= bool((logits.argmax(-1) >= tokenizer_size).any())
        nxt = top2.indices[:, 0]
        out.append(nxt)
        seqs = torch.cat((seqs, nxt[:, None]), dim=1)
    return torch.stack(out, dim=1), margin, padded_wins


def corpus_input_ids(bpe, text, n_rows, seq):
    rows = []
    for line in text.split("\n"):
        ids = bpe.encode(line)
        if len(ids) >= seq:
            rows.append(ids[:seq])
            if len(rows) == n_rows:
                break
    return torch.tensor(rows, dtype=torch.int64)


def write_json_sorted(path, obj):
    # transformers: json.dumps(config_dict, indent=2, sort_keys=True) + "\n"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_model(name, cfg, weights, dtype, shards, forward, ids, tokenizer_size):
    out = os.path.join(HF, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    write_json_sorted(os.path.join(out, "config.json"), cfg)
    write_json_sorted(os.path.join(out, "generation_config.json"), {
        "_from_model_config": True, "bos_token_id": cfg["bos_token_id"],
        "eos_token_id": cfg["eos_token_id"], "transformers_version": TRANSFORMERS_VERSION})
    for f in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(TOK_DIR, f), os.path.join(out, f))
    stored = {k: v.to(dtype) for k, v in weights.items()}
    if shards is None:
        files = {"model.safetensors": stored}
    else:
        files = {}
        for i, prefixes in enumerate(shards):
            fn = "model-%05d-of-%05d.safetensors" % (i + 1, len(shards))
            files[fn] = {k: v for k, v in stored.items() if k.startswith(prefixes)}
        assert sum(len(v) for v in files.values()) == len(stored)
    total, weight_map = 0, {}
    for fn, tensors in files.items():
        total += save_file(tensors, os.path.join(out, fn))
        weight_map.update({k: fn for k in tensors})
        back = load_file(os.path.join(out, fn))
        assert back.keys() == tensors.keys()
        for k, t in tensors.items():
            assert back[k].dtype == t.dtype and torch.equal(back[k], t), "%s/%s %s" % (name, fn, k)
    if shards is not None:
        write_json_sorted(os.path.join(out, "model.safetensors.index.json"),
                          {"metadata": {"total_size": total}, "weight_map": weight_map})
    # The reference runs on what a loader reads back: the stored (rounded) weights, in fp32.
    loaded = {}
    for fn in files:
        loaded.update(load_file(os.path.join(out, fn)))
    logits = forward(cfg, loaded, ids)
    greedy_ids, margin, padded_wins = greedy(forward, cfg, loaded, ids, NEW_TOKENS, tokenizer_size)
    assert margin > 1e-3, "%s: greedy top-1/top-2 margin %g too small" % (name, margin)
    assert all(len(set(r)) >= 3 for r in greedy_ids.tolist()), "%s: greedy repeats" % name
    ref = {"input_ids": ids, "logits": logits.float().contiguous(), "greedy_ids": greedy_ids}
    save_file(ref, os.path.join(out, "reference.safetensors"))
    back = load_file(os.path.join(out, "reference.safetensors"))
    for k, t in ref.items():
        assert torch.equal(back[k], t), "%s reference %s" % (name, k)
    params = sum(t.numel() for t in stored.values())
    print("%-6s vocab_size %d, %d params %s, weights %d B in %d file(s), greedy min margin %.4f,"
          " unmasked argmax picks a padding id: %s"
          % (name, cfg["vocab_size"], params, str(dtype).replace("torch.", ""), total, len(files),
             margin, padded_wins))
    print("       greedy_ids %s" % greedy_ids.tolist())
    return padded_wins


def main():
    with open(os.path.join(TOK_DIR, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    added = [(a["content"], a["id"]) for a in tj["added_tokens"]]
    bpe = ByteLevelBPE(tj["model"]["vocab"], tj["model"]["merges"], added)
    n_tok = len(tj["model"]["vocab"]) + len(added)
    eot = dict(added)["<|endoftext|>"]
    with open(CORPUS, encoding="utf-8") as f:
        ids = corpus_input_ids(bpe, f.read(), 2, SEQ)
    print("tokenizer size %d; input_ids %s" % (n_tok, ids.tolist()))

    g = torch.Generator().manual_seed(SEED)
    cfg = gpt2_config(n_tok, eot, eot)
    write_model("gpt2", cfg, gpt2_weights(cfg, g), torch.float32, None, gpt2_forward, ids, n_tok)

    cfg = llama_config(n_tok, eot, eot)
    err = check_rope_against_complex(cfg, g)
    print("llama  RoPE (rotate_half) vs complex multiplication: max abs diff %.2e" % err)
    shards = [("model.embed_tokens.", "model.layers.0."), ("model.layers.1.", "model.norm.", "lm_head.")]
    write_model("llama", cfg, llama_weights(cfg, g, False, n_tok), torch.bfloat16, shards,
                llama_forward, ids, n_tok)

    cfg = qwen2_config(-(-n_tok // 64) * 64, eot, eot)
    check_rope_against_complex(cfg, g)
    wins = write_model("qwen2", cfg, llama_weights(cfg, g, True, n_tok), torch.float16, None,
                       llama_forward, ids, n_tok)
    assert wins, "qwen2: padding rows never win the unmasked argmax; the fixture would not test masking"


if __name__ == "__main__":
    main()
