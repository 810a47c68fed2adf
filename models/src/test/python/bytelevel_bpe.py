"""Byte-level BPE as GPT-2 defines it, and the Hugging Face tokenizer.json that describes it.

Follows openai/gpt-2 src/encoder.py (bytes_to_unicode, the pre-tokenizer regex, the rank-ordered
merge loop) and the Hugging Face `tokenizers` JSON layout (model type "BPE", ByteLevel
pre-tokenizer/decoder/post-processor) as the GPT-2 and Qwen2 tokenizer.json files on the hub use it.
Run with Debian's /usr/bin/python3 (needs python3-regex only).
"""
import json

import regex

# GPT-2's pre-tokenizer (openai/gpt-2 src/encoder.py; the same pattern `tokenizers` uses for
# ByteLevel with use_regex=true).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
PAT = regex.compile(GPT2_PATTERN)


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode char table (openai/gpt-2 src/encoder.py)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENCODER = bytes_to_unicode()
BYTE_DECODER = {v: k for k, v in BYTE_ENCODER.items()}


def pretokenize(text):
    """Pre-tokenized words, each as its byte-level unicode string."""
    return ["".join(BYTE_ENCODER[b] for b in w.encode("utf-8")) for w in PAT.findall(text)]


class ByteLevelBPE:
    """Encoder: added (special) tokens are split out first, as `tokenizers` does for added
    tokens; every other piece is pre-tokenized and merged by rank (lowest rank first, all its
    occurrences left to right), as openai/gpt-2 src/encoder.py `bpe()` does."""

    def __init__(self, vocab, merges, added_tokens):
        self.vocab = vocab  # token string -> id (model vocab, without added tokens)
        self.ranks = {tuple(m.split(" ")): i for i, m in enumerate(merges)}
        self.added = dict(added_tokens)  # content -> id
        self.id_to_token = {i: t for t, i in vocab.items()}
        self.id_to_token.update({i: t for t, i in self.added.items()})
        self.cache = {}
        if self.added:
            alts = sorted(self.added, key=lambda s: (-len(s), s))
            self.split_re = regex.compile("(" + "|".join(regex.escape(a) for a in alts) + ")")
        else:
            self.split_re = None

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token)
        while len(word) > 1:
            pairs = [(word[i], word[i + 1]) for i in range(len(word) - 1)]
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        self.cache[token] = word
        return word

    def encode(self, text):
        pieces = self.split_re.split(text) if self.split_re else [text]
        ids = []
        for piece in pieces:
            if not piece:
                continue
            if piece in self.added:
                ids.append(self.added[piece])
                continue
            for w in pretokenize(piece):
                ids.extend(self.vocab[t] for t in self.bpe(w))
        return ids

    def tokens(self, ids):
        return [self.id_to_token[i] for i in ids]

    def decode(self, ids, skip_special=False):
        out, buf = [], bytearray()
        for i in ids:
            t = self.id_to_token[i]
            if t in self.added:
                out.append(buf.decode("utf-8", errors="replace"))
                buf = bytearray()
                if not skip_special:
                    out.append(t)
            else:
                buf.extend(BYTE_DECODER[c] for c in t)
        out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)


def added_token_entry(tid, content, special=True):
    return {"id": tid, "content": content, "single_word": False, "lstrip": False,
            "rstrip": False, "normalized": False, "special": special}


def tokenizer_json(vocab, merges, added_tokens):
    """The tokenizer.json dict in the layout `tokenizers` (>= 0.13) writes for a byte-level BPE."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added_token_entry(i, c) for c, i in added_tokens],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": vocab,
            "merges": merges,
        },
    }


def write_json(path, obj, indent=2):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")
