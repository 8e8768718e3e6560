"""GPU memory and utilisation through NVML (``nvidia-ml-py``), when it is installed and finds a GPU.

Optional by design: without the package, without a driver or without a GPU, :func:`gpu_stats` returns
an empty list and the screens simply show no GPU line. It never raises.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuStat:
    index: int
    name: str
    memory_used: int  # bytes
    memory_total: int
    utilization: int  # percent
    run_memory: int = 0  # bytes held by the processes asked about (the run's process group)

    def line(self) -> str:
        gib = 1024 ** 3
        own = f" (run {self.run_memory / gib:.1f})" if self.run_memory else ""
        return (f"GPU{self.index} {self.name}: {self.utilization}% · {self.memory_used / gib:.1f}/"
                f"{self.memory_total / gib:.1f} GiB{own}")


def gpu_stats(pids: set[int] | frozenset[int] = frozenset()) -> list[GpuStat]:
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver, no GPU: NVMLError of several kinds
        return []
    stats = []
    try:
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
            name = name.decode() if isinstance(name, bytes) else str(name)
            try:
                utilization = int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            except Exception:
                utilization = 0
            own = 0
            if pids:
                try:
                    own = sum(p.usedGpuMemory or 0 for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
                              if p.pid in pids)
                except Exception:
                    own = 0
            stats.append(GpuStat(index, name, int(memory.used), int(memory.total), utilization, own))
    except Exception:
        return stats
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass
    return stats


def group_pids(pgid: int) -> set[int]:
    """Every process of a process group (the run's supervisor and training, and their workers)."""
    from pathlib import Path

    found = set()
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            if len(fields) > 2 and fields[2] == str(pgid):
                found.add(int(entry.name))
    return found
