"""Provenance: what produced a result.

Every stored result carries :func:`collect` — code version (git commit, with ``+dirty`` when the
working tree had uncommitted changes, else the package version), library versions, device name,
host, and a UTC timestamp.  Figures print a one-line :func:`footer` from it.
"""
from __future__ import annotations

import datetime as _dt
import functools
import platform
import socket
import subprocess

from . import __version__
from .paths import checkout_root


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """``<package version>+g<commit>[.dirty]`` in a clone, the package version otherwise."""
    root = checkout_root()
    if root is None or not (root / ".git").exists():
        return __version__
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=10", "HEAD"],
                                capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}" + (".dirty" if dirty else "")


def device_name(device: str = "cpu") -> str:
    """Human name of a torch device: the GPU model, or the CPU model and thread count."""
    try:
        import torch
    except ImportError:  # the SDE chapter needs no torch
        return f"cpu ({platform.processor() or platform.machine()})"
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    threads = torch.get_num_threads()
    return f"cpu ({cpu_model()}, {threads} thread{'' if threads == 1 else 's'})"


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "torch", "torchvision"):
        try:
            module = __import__(name)
            versions[name] = getattr(module, "__version__", "?")
        except ImportError:
            pass
    return versions


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def collect(device: str = "cpu") -> dict:
    return {
        "code_version": code_version(),
        "versions": library_versions(),
        "device": device_name(device),
        "host": socket.gethostname(),
        "created": utc_now(),
    }
