"""Train each local recipe for a few steps on a small model — only where a GPU and Unsloth exist.

    bench/local_gpu_smoke.sh /path/to/unsloth-env/bin/python [WORKDIR]

Generates the four recipes' run folders exactly as the app does (same generator, same launcher, detached),
with a small model and 3 steps each, waits for each to end, and prints per recipe: status, seconds,
losses seen in the log, adapter saved, peak GPU memory when nvidia-ml-py is importable. Then exports the
Alpaca adapter to merged 16-bit. Exit status 0 only when every run succeeded.

Not run in CI (no GPU there) — see README "Local runs: what has and has not run on a GPU".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bailian_tui.core.local import recipes, runs  # noqa: E402
from bailian_tui.core.local.gpu import gpu_stats, group_pids  # noqa: E402
from bailian_tui.core.logparse import Metrics  # noqa: E402

DATA = ROOT / "datasets"
SMALL = {"text": "unsloth/Qwen2.5-0.5B-Instruct", "vl": "unsloth/Qwen2-VL-2B-Instruct"}
FEW = {"max_steps": 3, "logging_steps": 1, "save_steps": 3, "max_seq_length": 512}


def vl_sheet(python: str, work: Path) -> Path:
    """A two-row VL sheet (CSV, which the converters read like the Excel template) with real PNGs."""
    (work / "img").mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-c", "from PIL import Image, ImageDraw\n"
                    "for i, c in enumerate(['red', 'blue']):\n"
                    "    im = Image.new('RGB', (224, 224), c); ImageDraw.Draw(im).text((20, 100), f'{i * 1000 + 35120} km')\n"
                    f"    im.save('{work}/img/' + c + '.png')\n"], check=True)
    sheet = work / "vl.csv"
    sheet.write_text("id,prompt,image,response\n1,请读出里程数,img/red.png,35120 km\n2,请读出里程数,img/blue.png,36120 km\n",
                     encoding="utf-8")
    return sheet


def run(python: str, work: Path, name: str, recipe: str, data: Path, values: dict) -> dict:
    folder = recipes.create_run(recipes.RunSpec(recipe, data, name, work / "runs", values))
    return watch(folder.path, runs.launch(folder.path, recipes.train_command(folder, python)))


def watch(run_dir: Path, info: runs.RunInfo) -> dict:
    started, peak = time.monotonic(), 0
    while not (run_dir / "exit.json").exists():
        stats = gpu_stats(group_pids(info.pid))
        peak = max([peak] + [s.run_memory for s in stats])
        time.sleep(1)
    outcome = runs.outcome(info)
    metrics = Metrics()
    for line in runs.LogLines(info.log_path).refresh() if info.log_path.exists() else []:
        metrics.feed(line)
    return {"run": run_dir.name, "status": outcome.status.value, "seconds": round(time.monotonic() - started, 1),
            "losses": [round(p.value, 4) for p in metrics.loss], "message": outcome.message,
            "peak_gpu_gib": round(peak / 1024 ** 3, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", required=True, help="bin/python of the Unsloth environment")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    work = args.out.resolve()
    results = [
        run(args.python, work, "smoke-chatml", "sft-chatml", DATA / "Chinese-medical-dialogue/样例_内科5000-6000.head40.csv",
            {**FEW, "model": SMALL["text"]}),
        run(args.python, work, "smoke-alpaca", "sft-alpaca", DATA / "Alpaca/alpaca_en_demo.json",
            {**FEW, "model": SMALL["text"]}),
        run(args.python, work, "smoke-vl", "vl-sft", vl_sheet(args.python, work),
            {**FEW, "model": SMALL["vl"], "per_device_train_batch_size": 1, "gradient_accumulation_steps": 1}),
        run(args.python, work, "smoke-grpo", "grpo-gsm8k", DATA / "GSM8K/train.jsonl",
            {**FEW, "model": SMALL["text"], "num_generations": 2, "per_device_train_batch_size": 2,
             "max_completion_length": 128, "max_prompt_length": 256, "lora_r": 16, "lora_alpha": 16}),
    ]
    alpaca = recipes.RunFolder(work / "runs/smoke-alpaca")
    export_dir = work / "runs/smoke-alpaca-export"
    export_dir.mkdir()
    results.append(watch(export_dir, runs.launch(export_dir, recipes.export_command(alpaca, args.python,
                                                                                     "merged_16bit"))))
    for result in results:
        print(json.dumps(result, ensure_ascii=False))
    return 0 if all(r["status"] == "SUCCEEDED" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
