"""Share of JFR execution and native-method samples per top frame, for the threads whose stack
holds FILTER (default: the decoding probe's main). Input: `jfr print --stack-depth 64 --events
jdk.ExecutionSample,jdk.NativeMethodSample REC.jfr > samples.txt` (issue 13's decoding profile).
Usage: python3 benchmarks/scripts/jfr_top_frames.py samples.txt [FILTER=DecodeCpuProbe] [N=25]
"""
import collections
import re
import sys

path = sys.argv[1]
wanted = sys.argv[2] if len(sys.argv) > 2 else "DecodeCpuProbe"
n_top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
blocks = re.split(r"\njdk\.(?:ExecutionSample|NativeMethodSample)", open(path).read())
top, n = collections.Counter(), 0
for block in blocks:
    frames = re.findall(r"^\s+([\w.$<>]+)\(", block, re.M)
    if frames and any(wanted in f for f in frames):
        n += 1
        top[frames[0]] += 1
print(f"{n} samples")
native = sum(v for k, v in top.items() if k.startswith("ai.djl.pytorch.jni.PyTorchLibrary."))
print(f"{native / n * 100:5.1f}% in PyTorchLibrary native calls (the engine ops and DJL's JNI glue)")
for frame, count in top.most_common(n_top):
    print(f"{count / n * 100:5.1f}% {frame}")
