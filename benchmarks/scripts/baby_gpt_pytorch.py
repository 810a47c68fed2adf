"""Reference: nanoGPT's CPU "baby GPT" trained in PyTorch eager, for a side-by-side speed and
quality comparison with distill's DJL trainer (benchmarks/scripts/baby_gpt.sh).

Same model and recipe as BabyGptBenchmark.java: char-level tiny Shakespeare, 90/10 split by
position, 4 layers, 4 heads, 128 wide, context 64, batch 12, dropout 0, biases, tied head, GELU,
pre-LayerNorm; AdamW(lr 1e-3, betas 0.9/0.99, weight decay 0.01 on every parameter), warmup 100
then cosine to 1e-4, global-norm clipping at 1.0; 2000 iterations; val loss over 50 batches.
Run with Debian's python3-torch and libopenblas0-openmp, OMP_NUM_THREADS=2.
"""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

corpus = open(sys.argv[1], encoding="utf-8").read()
iters = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
chars = sorted(set(corpus))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in corpus], dtype=torch.long)
n = int(0.9 * len(data))
train, val = data[:n], data[n:]
V, T, B, L, H, C = len(chars), 64, 12, 4, 4, 128
torch.manual_seed(1337)


def batch(split):
    d = train if split == "train" else val
    ix = torch.randint(len(d) - T - 1, (B,))
    return torch.stack([d[i : i + T] for i in ix]), torch.stack([d[i + 1 : i + T + 1] for i in ix])


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.attn, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.fc, self.mlp = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)
        self.register_buffer("mask", torch.tril(torch.ones(T, T)).view(1, 1, T, T))

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.attn(self.ln1(x)).split(C, dim=2)
        q, k, v = (z.view(b, t, H, c // H).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // H)
        att = att.masked_fill(self.mask[:, :, :t, :t] == 0, float("-inf")).softmax(-1)
        x = x + self.proj((att @ v).transpose(1, 2).contiguous().view(b, t, c))
        return x + self.mlp(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.lnf = nn.LayerNorm(C)
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.blocks:
            x = blk(x)
        return self.lnf(x) @ self.wte.weight.t()


model = GPT()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.01)


# Warm-up cut to the run's length for short smoke runs, as BabyGptBenchmark.java does.
def lr_at(it, warmup=min(100, iters), lr=1e-3, min_lr=1e-4):
    if it < warmup:
        return lr * (it + 1) / warmup
    p = (it - warmup) / max(1, iters - warmup)
    return min_lr + 0.5 * (1 + math.cos(math.pi * min(1.0, p))) * (lr - min_lr)


start = time.time()
cpu_start = time.process_time()
for it in range(iters):
    for g in opt.param_groups:
        g["lr"] = lr_at(it)
    x, y = batch("train")
    loss = F.cross_entropy(model(x).view(-1, V), y.view(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
elapsed = time.time() - start
cpu = time.process_time() - cpu_start
model.eval()
with torch.no_grad():
    losses = []
    for _ in range(50):
        x, y = batch("val")
        losses.append(F.cross_entropy(model(x).view(-1, V), y.view(-1)).item())
print(f"pytorch iters={iters} tokens_per_second={iters * B * T / elapsed:.0f} val_loss={sum(losses) / len(losses):.4f} seconds={elapsed:.1f} cpu_seconds={cpu:.1f} tokens_per_cpu_second={iters * B * T / cpu:.0f}")
