"""Dataset pipeline benchmark: a 300 MB MedQA-shaped file, ours against a naive baseline in the same run.

    python bench/bench_pipeline.py [--size-mb 300] [--repeat 3] [--workdir DIR]

Each measurement runs in a fresh child process so that its peak RSS (ru_maxrss of the child, plus the
largest of its own workers) is its own. Medians of --repeat runs; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "datasets/MedQA/questions"

STEPS = {
    # The original script: per line json.loads, build the messages, json.dumps(ensure_ascii=False), write.
    "baseline_convert": """
import json, sys
SYSTEM = "你是一个专业的医学助手，擅长回答医学选择题。请根据题目和选项，给出正确答案。"
with open(sys.argv[1], encoding="utf-8") as src, open(sys.argv[2], "w", encoding="utf-8") as dst:
    for line in src:
        r = json.loads(line)
        options = "\\n".join(f"{k}. {v}" for k, v in r["options"].items())
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"{r['question']}\\n\\n选项：\\n{options}"},
                    {"role": "assistant", "content": f"答案是 {r['answer_idx']}. {r['answer']}"}]
        dst.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\\n")
""",
    "ours_convert_validate": """
import sys
from bailian_tui.core.data.convert import convert_file
report = convert_file(sys.argv[1], sys.argv[2], format="medqa", max_length=8192)
assert report.written and not report.errors, report.findings[:3]
""",
    "ours_validate": """
import sys
from bailian_tui.core.data.scan import validate_file
scan = validate_file(sys.argv[3], max_length=8192)
assert scan.ok and scan.samples
""",
    "baseline_tiktoken_count": """
import json, sys
import dashscope
enc = dashscope.get_tokenizer("qwen-turbo")._tokenizer
total = 0
with open(sys.argv[3], encoding="utf-8") as src:
    for line in src:
        r = json.loads(line)
        text = "".join(f"<|im_start|>{m['role']}\\n{m['content']}<|im_end|>\\n" for m in r["messages"])
        total += len(enc.encode(text, allowed_special="all"))
print(total)
""",
    "ours_exact_count": """
import sys
from bailian_tui.core.data.scan import validate_file
scan = validate_file(sys.argv[3], max_length=8192, exact=True, workers=2)
print(sum(scan.token_counts))
""",
}


def make_input(path: Path, size_mb: int) -> None:
    records = [json.loads(line) for split in SAMPLES.rglob("*.jsonl") for line in split.open(encoding="utf-8")
               if "options" in line]
    rng = random.Random(1)
    target = size_mb * 1024 * 1024
    written = 0
    with path.open("w", encoding="utf-8") as out:
        n = 0
        while written < target:
            r = dict(rng.choice(records))
            n += 1
            # Vary the text so no two lines are equal (duplicates would be findings, not speed).
            r["question"] = f"{r['question']}（病例 {n}，{rng.randint(18, 90)} 岁）" + "补充说明。" * rng.randint(0, 30)
            line = json.dumps(r, ensure_ascii=False) + "\n"
            out.write(line)
            written += len(line.encode())


def sft_file(dst: Path) -> Path:
    """The converted file to validate: the output, or its first part when it was split at 300 MB."""
    part = dst.with_name(dst.stem + "_part1.jsonl")
    return part if part.exists() else dst


def run_step(name: str, src: Path, dst: Path) -> tuple[float, float, str]:
    """(seconds, peak RSS MB of the step's process tree, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    code = "import resource, sys, time\nt=time.perf_counter()\n" + STEPS[name] + \
           "\nsys.stderr.write(f'@@{time.perf_counter()-t} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} " \
           "{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}')\n"
    done = subprocess.run([sys.executable, "-c", code, str(src), str(dst), str(sft_file(dst))],
                          capture_output=True, text=True,
                          cwd=ROOT, check=True)
    _ = before
    seconds, own, workers = done.stderr.rsplit("@@", 1)[1].split()
    return float(seconds), max(int(own), int(workers)) / 1024, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bt-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    src, dst = work / "medqa_big.jsonl", work / "medqa_big_BaiLian.jsonl"
    if not src.exists() or src.stat().st_size < args.size_mb * 1024 * 1024:
        make_input(src, args.size_mb)
    size_mb = src.stat().st_size / 2**20
    print(f"# {platform.node()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
          f"Python {platform.python_version()} · {time.strftime('%Y-%m-%d')}")
    print(f"input: {size_mb:.0f} MB, {sum(1 for _ in src.open('rb')):,} records")
    results: dict[str, tuple[float, float]] = {}
    order = ["baseline_convert", "ours_convert_validate", "ours_validate", "baseline_tiktoken_count",
             "ours_exact_count"]
    counts = {}
    for stale in work.glob(dst.stem + "*"):
        stale.unlink()
    for name in order:
        runs = [run_step(name, src, dst) for _ in range(args.repeat)]
        seconds = statistics.median(r[0] for r in runs)
        peak = max(r[1] for r in runs)
        results[name] = (seconds, peak)
        counts[name] = runs[-1][2]
        measured = sft_file(dst).stat().st_size / 2**20 if name in ("ours_validate", "baseline_tiktoken_count",
                                                                     "ours_exact_count") else size_mb
        print(f"{name:26s} median {seconds:7.2f} s  {measured / seconds:7.1f} MB/s  peak RSS {peak:6.0f} MB")
    base = results["baseline_convert"][0]
    print(f"convert+validate vs baseline: {base / results['ours_convert_validate'][0]:.2f}x (target >= 2x)")
    sft_mb = sft_file(dst).stat().st_size / 2**20
    print(f"validated SFT file: {sft_mb:.0f} MB")
    print(f"validate alone vs baseline:   {base / results['ours_validate'][0] * sft_mb / size_mb:.2f}x "
          f"(target >= 3x, per MB read)")
    print(f"exact count vs 1-thread tiktoken: "
          f"{results['baseline_tiktoken_count'][0] / results['ours_exact_count'][0]:.2f}x (target >= 1.6x)")
    assert counts["baseline_tiktoken_count"] == counts["ours_exact_count"], counts


if __name__ == "__main__":
    main()
