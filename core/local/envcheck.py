"""Environment check: what the profile's Python has of what a recipe needs (on demand, never at start-up).

The check runs the named interpreter with a small probe (it imports torch to ask about CUDA, which takes
a few seconds) and turns its JSON answer into a report that says plainly what is missing and how to get it.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field

PACKAGES = ("unsloth", "trl", "torch", "transformers", "datasets", "peft", "accelerate", "bitsandbytes", "vllm",
            "PIL")
DISTRIBUTIONS = {"PIL": "pillow"}
PROBE = r"""
import importlib.util, importlib.metadata, json, platform, sys
names = %r
dists = %r
found = {}
for name in names:
    if importlib.util.find_spec(name) is None:
        found[name] = None
        continue
    try:
        found[name] = importlib.metadata.version(dists.get(name, name))
    except importlib.metadata.PackageNotFoundError:
        found[name] = "?"
cuda = {"available": False, "devices": [], "version": None, "error": None}
if found.get("torch"):
    try:
        import torch
        cuda["version"] = torch.version.cuda
        cuda["available"] = bool(torch.cuda.is_available())
        if cuda["available"]:
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                cuda["devices"].append({"name": p.name, "memory": p.total_memory,
                                        "capability": "%%d.%%d" %% (p.major, p.minor)})
    except Exception as err:
        cuda["error"] = "%%s: %%s" %% (type(err).__name__, err)
print(json.dumps({"python": platform.python_version(), "executable": sys.executable, "packages": found,
                  "cuda": cuda}))
""" % (PACKAGES, DISTRIBUTIONS)


@dataclass
class EnvReport:
    python: str
    version: str = ""
    packages: dict[str, str | None] = field(default_factory=dict)
    cuda: bool = False
    cuda_version: str | None = None
    devices: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def missing(self, needs: tuple[str, ...]) -> list[str]:
        return [name for name in needs if not self.packages.get(name)]

    def ready(self, needs: tuple[str, ...] = ("unsloth", "trl", "torch")) -> bool:
        return not self.problems and not self.missing(needs) and self.cuda

    def lines(self, needs: tuple[str, ...] = ("unsloth", "trl", "torch", "transformers", "datasets")) -> list[str]:
        out = [f"python {self.version} at {self.python}"] if self.version else [f"python at {self.python}"]
        out += self.problems
        for name, version in self.packages.items():
            mark = "✓" if version else ("✗" if name in needs else "·")
            out.append(f"{mark} {name} {version or 'missing'}")
        if self.packages:
            if self.cuda:
                out += [f"✓ CUDA {self.cuda_version}: " + ", ".join(
                    f"{d['name']} {d['memory'] / 1024 ** 3:.0f} GiB" for d in self.devices)]
            else:
                out.append("✗ CUDA: no GPU visible to torch" if self.packages.get("torch") else "✗ CUDA: torch missing")
        missing = self.missing(needs) if self.packages else []
        if missing:
            dists = " ".join(DISTRIBUTIONS.get(m, m) for m in missing)
            out.append(f"missing for this recipe: {', '.join(missing)} — install with: {self.python} -m pip "
                       f"install {dists} (see https://docs.unsloth.ai for the CUDA-matched command)")
        return out


async def check(python: str, timeout: float = 120.0) -> EnvReport:
    report = EnvReport(python)
    if not os.path.isfile(python) or not os.access(python, os.X_OK):
        report.problems.append(f"✗ {python}: no such executable; set the profile's python to the bin/python of "
                               "the environment where Unsloth is installed")
        return report
    try:
        process = await asyncio.create_subprocess_exec(python, "-c", PROBE, stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.PIPE,
                                                       start_new_session=True, cwd="/")  # not ./datasets
    except OSError as err:
        report.problems.append(f"✗ {python}: cannot run it ({err.strerror})")
        return report
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        report.problems.append(f"✗ the check did not finish in {timeout:.0f} s (importing torch hung?)")
        return report
    try:
        data = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        report.problems.append(f"✗ {python} could not run the check: {tail[0]}")
        return report
    report.version = data.get("python", "")
    report.packages = data.get("packages") or {}
    cuda = data.get("cuda") or {}
    report.cuda, report.cuda_version, report.devices = bool(cuda.get("available")), cuda.get("version"), \
        list(cuda.get("devices") or [])
    if cuda.get("error"):
        report.problems.append(f"✗ torch failed to initialise CUDA: {cuda['error']}")
    return report
