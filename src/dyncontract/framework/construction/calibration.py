"""How many Gcycles one training step costs on this machine (model.md §8, "Workload").

A contract's workload T is in Gcycles; an ES executes it as behaviour-cloning steps. The
conversion is measured, never assumed: :func:`calibrate` times ``steps`` steps (after
``warmup``) on one thread with ``time.thread_time`` and multiplies the CPU seconds per step by
the CPU clock (``construction.cpu_ghz``, or the ``cpu MHz`` line of /proc/cpuinfo). The
record is written to :func:`default_path` and reused by every construction with the same
agent sizes, batch size and levels; ``dyncontract construct --calibrate`` measures it anew.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from dyncontract.framework.construction.config import ConstructionConfig

#: Bump when the measured quantity changes meaning (older records are then re-measured).
RECORD_VERSION = 1


def default_path() -> Path:
    """``$DYNCONTRACT_CACHE_DIR/construction-calibration.json``; the folder defaults to
    ``~/.cache/dyncontract``."""
    root = os.environ.get("DYNCONTRACT_CACHE_DIR") or Path.home() / ".cache" / "dyncontract"
    return Path(root) / "construction-calibration.json"


def cpu_ghz(cfg: ConstructionConfig) -> tuple[float, str]:
    """The clock used to turn CPU seconds into cycles, and where it came from."""
    if cfg.cpu_ghz is not None:
        return float(cfg.cpu_ghz), "construction.cpu_ghz"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("cpu mhz"):
                return float(line.split(":", 1)[1]) / 1000.0, "/proc/cpuinfo (cpu MHz)"
    except (OSError, ValueError):
        pass
    raise RuntimeError(
        "cannot read the CPU clock from /proc/cpuinfo: set construction.cpu_ghz "
        "or construction.gcycles_per_step"
    )


def _key(cfg: ConstructionConfig) -> dict[str, Any]:
    """What a step's cost depends on (a record is reused only when all of it matches)."""
    return {
        "version": RECORD_VERSION,
        "agent": cfg.agent.model_dump(),
        "batch_episodes": cfg.batch_episodes,
        "levels": list(cfg.levels),
    }


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def calibrate(cfg: ConstructionConfig, steps: int = 40, warmup: int = 5) -> dict[str, Any]:
    """Measure the Gcycles of one training step (see the module docstring)."""
    import numpy as np
    import torch

    from dyncontract.framework.construction.agent import AgentSpec
    from dyncontract.framework.construction.data import generate_demos
    from dyncontract.framework.construction.task import new_agent, train_bc

    torch.set_num_threads(1)
    rng = np.random.default_rng(12345)
    eps, _ = generate_demos(cfg.levels, max(64, 2 * cfg.batch_episodes), rng)
    agent = new_agent(AgentSpec(**cfg.agent.model_dump()), 0)
    opt = torch.optim.Adam(agent.parameters(), lr=cfg.learning_rate)
    train_bc(agent, opt, eps, warmup, cfg.batch_episodes, rng)
    res = train_bc(agent, opt, eps, steps, cfg.batch_episodes, rng)
    ghz, source = cpu_ghz(cfg)
    per_step = res.cpu_s / steps
    return {
        **_key(cfg),
        "gcycles_per_step": per_step * ghz,
        "cpu_s_per_step": per_step,
        "cpu_ghz": ghz,
        "cpu_ghz_source": source,
        "steps_timed": steps,
        "machine": {
            "node": platform.node(),
            "processor": _processor(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "git_revision": _git_revision(),
        "measured_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def load(cfg: ConstructionConfig, path: Path | None = None) -> dict[str, Any] | None:
    """The stored record matching ``cfg`` (None when there is none or it does not match)."""
    path = path or default_path()
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or any(rec.get(k) != v for k, v in _key(cfg).items()):
        return None
    return rec


def save(rec: dict[str, Any], path: Path | None = None) -> Path:
    from dyncontract._io import write_json_atomic

    return write_json_atomic(path or default_path(), rec)


def gcycles_per_step(
    cfg: ConstructionConfig, path: Path | None = None, log: Any = None
) -> tuple[float, dict[str, Any]]:
    """The figure a construction uses: ``construction.gcycles_per_step`` when set, else the
    stored record for ``cfg`` (measured and stored first when there is none)."""
    if cfg.gcycles_per_step is not None:
        return float(cfg.gcycles_per_step), {"source": "construction.gcycles_per_step"}
    rec = load(cfg, path)
    if rec is None:
        if log is not None:
            log("no calibration record for these settings: measuring one (~10 s)")
        t0 = time.perf_counter()
        rec = calibrate(cfg)
        rec["calibrate_wall_s"] = time.perf_counter() - t0
        save(rec, path)
    return float(rec["gcycles_per_step"]), {"source": str(path or default_path()), **rec}
