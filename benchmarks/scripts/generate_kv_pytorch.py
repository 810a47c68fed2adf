"""Reference: batch-1 decoding with a key/value cache in PyTorch eager, for the model shape of
distill's GenerationBenchmark (the demo teacher: 4 layers, 4 heads, 128 wide, context 64, 65
characters, 809,856 parameters; random weights: speed does not depend on them). Prompt of
PROMPT tokens, then NEW tokens sampled at temperature 1, one position per step through the cache
(what distill's CachedDecoder does). Prints the median tokens/s over ROUNDS rounds (+1 warm-up),
and the median process CPU ms per token (load-insensitive with OMP_NUM_THREADS=1: compare with
distill's DecodeCpuProbe, the decoding thread's CPU ms per token).
Usage: generate_kv_pytorch.py [ROUNDS=5] [PROMPT=16] [NEW=48]
Run with Debian's python3-torch, OMP_NUM_THREADS = cores (benchmarks/scripts/generation.sh).
"""
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
prompt_len = int(sys.argv[2]) if len(sys.argv) > 2 else 16
new = int(sys.argv[3]) if len(sys.argv) > 3 else 48
V, T, L, H, C = 65, 64, 4, 4, 128
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.attn, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.fc, self.mlp = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x, cache):
        b, t, c = x.shape
        q, k, v = self.attn(self.ln1(x)).split(C, dim=2)
        q, k, v = (z.view(b, t, H, c // H).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // H)
        if t > 1:  # prompt: causal mask; one new position sees every cached key
            s = k.shape[2]
            mask = torch.ones(t, s).tril(diagonal=s - t) == 0
            att = att.masked_fill(mask, float("-inf"))
        y = (att.softmax(-1) @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.proj(y)
        return x + self.mlp(F.gelu(self.fc(self.ln2(x)))), (k, v)


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.lnf = nn.LayerNorm(C)

    def forward(self, idx, p0, caches):
        x = self.wte(idx) + self.wpe(torch.arange(p0, p0 + idx.shape[1]))
        out = []
        for blk, cache in zip(self.blocks, caches):
            x, kv = blk(x, cache)
            out.append(kv)
        return self.lnf(x) @ self.wte.weight.t(), out


model = GPT().eval()
assert sum(p.numel() for p in model.parameters()) == 809_856
prompt = torch.randint(0, V, (1, prompt_len))


def generate(seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        logits, caches = model(prompt, 0, [None] * L)
        pos = prompt_len
        for _ in range(new):
            probs = logits[:, -1, :].softmax(-1)
            nxt = torch.multinomial(probs, 1, generator=g)
            logits, caches = model(nxt, pos, caches)
            pos += 1


rates = []
cpu = []
for r in range(rounds + 1):
    t0 = time.perf_counter()
    c0 = time.process_time()
    generate(r)
    s = time.perf_counter() - t0
    c = time.process_time() - c0
    if r > 0:
        rates.append(new / s)
        cpu.append(1000 * c / new)
print(f"pytorch-kv batch=1 prompt={prompt_len} new={new} rounds={rounds} "
      f"tokens_per_second={statistics.median(rates):.1f} threads={torch.get_num_threads()} "
      f"cpu_ms_per_token={statistics.median(cpu):.4f}")
