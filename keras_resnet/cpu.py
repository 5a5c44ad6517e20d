"""The CPU this runs on, from /proc/cpuinfo: its model name and feature flags (AVX2,
AVX-512, AMX, ...). Read by the layers that pick a kernel by ISA and by the benchmark."""

from __future__ import annotations

import platform


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set:
    """The CPU's feature flags (the first `flags` / `Features` line), empty when unreadable."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` says."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
