"""The PyTorch side of benchmarks.models.EngineOpCost: this thread's CPU microseconds per eager op
from Python at the shapes of one batch-1 decoding step of the demo teacher (128 wide, 4 heads of
32, 40 cached positions), best of 5 batches of 5,000 calls, no autograd (issue 13).
Usage: OMP_NUM_THREADS=1 /usr/bin/python3 benchmarks/scripts/op_cost_pytorch.py
"""
import time

import torch
import torch.nn.functional as F

torch.set_grad_enabled(False)
x, h = torch.randn(1, 128), torch.randn(1, 512)
w_qkv, b_qkv, w_proj, wte = torch.randn(384, 128), torch.randn(384), torch.randn(128, 512), torch.randn(65, 128)
gamma, beta = torch.ones(128), torch.zeros(128)
q, k = torch.randn(1, 4, 1, 32), torch.randn(1, 4, 40, 32)


def time_op(name, op):
    best = float("inf")
    for _ in range(5):
        c0 = time.thread_time()
        for _ in range(5000):
            op()
        best = min(best, (time.thread_time() - c0) / 5000 * 1e6)
    print(f"{name:26s} {best:6.2f} us")


time_op("add 1x128", lambda: x + x)
time_op("reshape 1x512", lambda: h.reshape(4, 128))
time_op("gelu 1x512", lambda: F.gelu(h))
time_op("linear 128->384 + bias", lambda: F.linear(x, w_qkv, b_qkv))
time_op("linear 512->128", lambda: F.linear(h, w_proj))
time_op("head 128->65", lambda: F.linear(x, wte))
time_op("layer_norm 128", lambda: F.layer_norm(x, (128,), gamma, beta))
time_op("q k^T (4 heads, 40 keys)", lambda: q @ k.transpose(-2, -1))
time_op("softmax 1x512", lambda: h.softmax(-1))
