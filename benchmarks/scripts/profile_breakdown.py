"""Sums libtorch profiler traces (Chrome format, written by StepProfile through DJL's
JniUtils.startProfile/stopProfile) per op category, from each op's self time (its duration minus
its children's). Usage: profile_breakdown.py DIR [phase=wall_ms ...]

Categories: matmul (mm, addmm, bmm, linear, matmul), element-wise and reductions (everything that
computes and is not a matmul, index or view), embedding/index (index_select, embedding backward,
gather, scatter), views and allocation (view, reshape, transpose, as_strided, empty, ...),
autograd (the backward nodes' and AccumulateGrad's own time). With the phase's wall time given,
the rest of the wall time is Java + JNI + everything outside an op ("outside ops").
"""
import json
import os
import sys
from collections import defaultdict

MATMUL = {"aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "aten::baddbmm",
          "aten::dot", "aten::mv", "aten::addmv", "aten::_addmm_activation"}
INDEX = {"aten::index_select", "aten::embedding", "aten::embedding_backward",
         "aten::embedding_dense_backward", "aten::gather", "aten::scatter", "aten::scatter_add_",
         "aten::index_add_", "aten::index", "aten::index_put_", "aten::_index_put_impl_",
         "aten::embedding_renorm_", "aten::sort", "aten::argsort"}
VIEW = {"aten::view", "aten::reshape", "aten::_reshape_alias", "aten::transpose", "aten::permute",
        "aten::as_strided", "aten::select", "aten::slice", "aten::split", "aten::split_with_sizes",
        "aten::narrow", "aten::unsqueeze", "aten::squeeze", "aten::expand", "aten::t",
        "aten::detach", "aten::detach_", "aten::alias", "aten::empty", "aten::empty_strided",
        "aten::empty_like", "aten::resize_", "aten::unbind", "aten::chunk", "aten::numpy_T",
        "aten::_unsafe_view", "aten::lift_fresh", "aten::contiguous", "aten::result_type",
        "aten::broadcast_tensors", "aten::expand_as", "aten::view_as", "aten::flatten",
        "aten::set_", "aten::is_nonzero", "aten::item", "aten::_local_scalar_dense",
        "aten::to", "aten::_to_copy", "aten::scalar_tensor", "aten::squeeze_", "aten::unsqueeze_"}
CATS = ["matmul", "element-wise", "embedding/index", "views/alloc", "autograd"]


def category(name):
    if name in MATMUL:
        return "matmul"
    if name in INDEX:
        return "embedding/index"
    if name in VIEW:
        return "views/alloc"
    if "Backward" in name or "AccumulateGrad" in name or name.startswith("autograd::"):
        return "autograd"
    return "element-wise"


def load(path):
    events = [e for e in json.load(open(path)) if e.get("ph") == "X"]
    by_tid = defaultdict(list)
    for e in events:
        by_tid[e.get("tid")].append(e)
    selfs = defaultdict(float)
    ops = defaultdict(float)  # self time per op name
    top = 0.0
    n = 0
    for evs in by_tid.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []
        child = defaultdict(float)
        for i, e in enumerate(evs):
            end = e["ts"] + e["dur"]
            while stack and not (e["ts"] >= evs[stack[-1]]["ts"]
                                 and end <= evs[stack[-1]]["ts"] + evs[stack[-1]]["dur"] + 1e-3):
                stack.pop()
            if stack:
                child[stack[-1]] += e["dur"]
            else:
                top += e["dur"]
            stack.append(i)
        for i, e in enumerate(evs):
            s = max(0.0, e["dur"] - child[i])
            selfs[category(e["name"])] += s
            ops[e["name"]] += s
            n += 1
    return selfs, ops, top, n


def main():
    d = sys.argv[1]
    walls = dict(a.split("=") for a in sys.argv[2:])
    files = sorted(f for f in os.listdir(d) if f.endswith(".json"))
    print(f"{'phase':<12}" + "".join(f"{c:>17}" for c in CATS) + f"{'outside ops':>13}{'wall ms':>9}{'ops':>6}")
    totals = defaultdict(float)
    for f in files:
        phase = f[:-5].replace("train-", "")
        selfs, ops, top, n = load(os.path.join(d, f))
        wall = float(walls[phase]) if phase in walls else top / 1000
        outside = max(0.0, wall - top / 1000)
        print(f"{phase:<12}" + "".join(f"{selfs[c] / 1000:>11.2f} ms {100 * selfs[c] / 1000 / wall:>2.0f}%" for c in CATS)
              + f"{outside:>10.2f} ms{wall:>9.2f}{n:>6}")
        if phase != "decode":
            for c in CATS:
                totals[c] += selfs[c] / 1000
            totals["outside"] += outside
            totals["wall"] += wall
        top5 = sorted(ops.items(), key=lambda kv: -kv[1])[:6]
        print("    top self: " + ", ".join(f"{k} {v / 1000:.2f}" for k, v in top5))
    w = totals["wall"]
    print(f"{'train step':<12}" + "".join(f"{totals[c]:>11.2f} ms {100 * totals[c] / w:>2.0f}%" for c in CATS)
          + f"{totals['outside']:>10.2f} ms{w:>9.2f}")


if __name__ == "__main__":
    main()
