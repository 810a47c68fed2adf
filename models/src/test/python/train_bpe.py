"""Trains the byte-level BPE fixture hf/bpe-shakespeare on the bundled tiny Shakespeare corpus.

Usage (from the repository root):  /usr/bin/python3 models/src/test/python/train_bpe.py

Deterministic: each step merges the most frequent adjacent pair, counted over the pre-tokenized
words of the corpus weighted by their counts; ties go to the pair that sorts first as
(left string, right string) in code-point order. Base vocabulary: the 256 byte symbols of GPT-2's
bytes_to_unicode, id = byte value. Merged tokens get the next ids in merge order (a merge whose
result already exists adds no new id). The special tokens follow at the end of the vocabulary.
"""
import collections
import hashlib
import os

import jinja2

from bytelevel_bpe import BYTE_ENCODER, ByteLevelBPE, pretokenize, tokenizer_json, write_json

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
CORPUS = os.path.join(ROOT, "deploy", "src", "main", "resources", "corpus", "tinyshakespeare.txt")
OUT = os.path.join(ROOT, "models", "src", "test", "resources", "hf", "bpe-shakespeare")

NUM_MERGES = 400
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
MODEL_MAX_LENGTH = 64
# ChatML, as Qwen2's tokenizer_config.json uses it (without its default system message).
CHAT_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                 "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
                 "{{ '<|im_start|>assistant\\n' }}{% endif %}")

TEST_STRINGS = [
    "Hello world",
    "First Citizen:\nBefore we proceed any further, hear me speak.",
    "  leading and trailing spaces  ",
    "line one\n\nline two\n",
    "In 1603, 42 players paid 3.50 each!",
    "What?! -- (yes); 'tis \"quoted\" & they'll go...",
    "café — naïve",
    "<|im_start|>user",
    "<|im_start|>user\nGood morrow<|im_end|>\n<|endoftext|>",
]
CONVERSATION = [
    {"role": "user", "content": "Who is the First Citizen?"},
    {"role": "assistant", "content": "A Roman, and hungry."},
    {"role": "user", "content": "What does he want?"},
]


def merge_word(word, pair, merged):
    out, i = [], 0
    while i < len(word):
        if i < len(word) - 1 and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(merged)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def train(text, num_merges):
    words = collections.Counter(tuple(w) for w in pretokenize(text))
    vocab = {BYTE_ENCODER[b]: b for b in range(256)}
    merges = []
    for _ in range(num_merges):
        pairs = collections.Counter()
        for w, c in words.items():
            for i in range(len(w) - 1):
                pairs[(w[i], w[i + 1])] += c
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merged = best[0] + best[1]
        merges.append(best[0] + " " + best[1])
        if merged not in vocab:
            vocab[merged] = len(vocab)
        new_words = collections.Counter()
        for w, c in words.items():
            if best[0] in w and best[1] in w:
                w = merge_word(w, best, merged)
            new_words[w] += c
        words = new_words
    return vocab, merges


def main():
    with open(CORPUS, encoding="utf-8") as f:
        text = f.read()
    vocab, merges = train(text, NUM_MERGES)
    added = [(s, len(vocab) + i) for i, s in enumerate(SPECIALS)]
    os.makedirs(OUT, exist_ok=True)
    write_json(os.path.join(OUT, "tokenizer.json"), tokenizer_json(vocab, merges, added))
    ids = dict(added)
    write_json(os.path.join(OUT, "tokenizer_config.json"), {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {str(i): {"content": c, "lstrip": False, "normalized": False,
                                          "rstrip": False, "single_word": False, "special": True}
                                 for c, i in added},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": "<|endoftext|>",
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|endoftext|>",
        "errors": "replace",
        "model_max_length": MODEL_MAX_LENGTH,
        "pad_token": "<|pad|>",
        "tokenizer_class": "GPT2Tokenizer",
        "unk_token": None,
    })
    tok = lambda s: {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False}
    # The object form transformers (4.4x) writes for AddedToken values.
    write_json(os.path.join(OUT, "special_tokens_map.json"), {
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": tok("<|endoftext|>"),
        "eos_token": tok("<|endoftext|>"),
        "pad_token": tok("<|pad|>"),
    })

    bpe = ByteLevelBPE(vocab, merges, added)
    cases = []
    for s in TEST_STRINGS:
        e = bpe.encode(s)
        assert bpe.decode(e) == s, s
        cases.append({"text": s, "ids": e, "tokens": bpe.tokens(e)})
    # Round trip over the whole corpus, line by line and as one text.
    corpus_ids = bpe.encode(text)
    assert bpe.decode(corpus_ids) == text
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)  # as transformers renders
    rendered = env.from_string(CHAT_TEMPLATE).render(messages=CONVERSATION,
                                                     add_generation_prompt=True)
    write_json(os.path.join(OUT, "expected.json"), {
        "vocab_size": len(vocab) + len(added),
        "model_vocab_size": len(vocab),
        "num_merges": len(merges),
        "special_token_ids": ids,
        "corpus_token_count": len(corpus_ids),
        # sha256 of the corpus ids written as decimal numbers joined by "," (no spaces).
        "corpus_ids_sha256": hashlib.sha256(",".join(map(str, corpus_ids)).encode()).hexdigest(),
        "encodings": cases,
        "chat": {"messages": CONVERSATION, "add_generation_prompt": True, "rendered": rendered,
                 "ids": bpe.encode(rendered)},
    })
    print("vocab %d (+%d special = %d), merges %d, corpus %d chars -> %d tokens"
          % (len(vocab), len(added), len(vocab) + len(added), len(merges), len(text),
             len(corpus_ids)))


if __name__ == "__main__":
    main()
