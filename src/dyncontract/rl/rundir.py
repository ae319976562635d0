"""The run directory: file names, metrics, ``run.json``, checkpoints and the run error type.

Every learner, the trainer, the CLI and the experiment runner read and write runs through this
module only::

    RUN_DIR/config.yaml     the resolved application config (written by the application)
    RUN_DIR/run.json        budget, seed, device, env and shapes of the run
    RUN_DIR/metrics.csv     one row per evaluation (columns: METRIC_COLUMNS first)
    RUN_DIR/checkpoint.pt   latest checkpoint (atomic; loaded with weights_only=True)

Every file is written atomically (temp file + rename): a crash leaves the old file or the new
one, never half a file. A checkpoint is a dict of tensors and plain Python values only, so the
restricted (weights-only) unpickler accepts it and rejects anything else — a tampered file
that smuggles code raises :class:`CheckpointError` before any of it runs.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import pickle
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from dyncontract._io import atomic_write, write_json_atomic, write_text_atomic

CONFIG = "config.yaml"
RUN_JSON = "run.json"
METRICS = "metrics.csv"
CHECKPOINT = "checkpoint.pt"

#: The trainer's columns of metrics.csv, in order; the evaluator's metrics follow.
METRIC_COLUMNS = [
    "step",
    "wall_s",
    "samples",
    "updates",
    "reward",
    "train_feasible_rate",
    "eval_reward",
    "return_mean",
    "prune_ratio",
    "mask_churn",
    "alpha",
    "entropy",
    "target_entropy",
    "critic_loss",
    "actor_loss",
    "lr_factor",
]
#: Integer columns (parsed as int when read back).
INT_COLUMNS = ("step", "samples", "updates")

CHECKPOINT_FORMAT = "dyncontract-edmsac-checkpoint"
CHECKPOINT_VERSION = 1


class RunError(ValueError):
    """A problem with a run's input (env id, run directory, resume state): one line."""


class CheckpointError(RunError):
    """A checkpoint that cannot be used (missing, damaged, tampered or of another format)."""


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def metrics_text(rows: Iterable[Mapping[str, Any]], columns: list[str] | None = None) -> str:
    """CSV text of metric rows: ``columns`` (default METRIC_COLUMNS plus any extra keys)."""
    rows = list(rows)
    if columns is None:
        extra = [k for r in rows for k in r if k not in METRIC_COLUMNS]
        columns = METRIC_COLUMNS + list(dict.fromkeys(extra))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: _fmt(r.get(k)) for k in columns})
    return buf.getvalue()


def parse_metrics(text: str) -> list[dict[str, Any]]:
    """Rows of a metrics CSV (numbers parsed, blanks -> NaN, other text kept)."""
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {}
        for k, v in r.items():
            if v in ("", None):
                row[k] = math.nan
            elif k in INT_COLUMNS:
                row[k] = int(float(v))
            else:
                try:
                    row[k] = float(v)
                except ValueError:
                    row[k] = v
        rows.append(row)
    return rows


class RunDir:
    """One run directory (see the module docstring)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    # ----- names ------------------------------------------------------------------------------
    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def run_json(self) -> Path:
        return self.path / RUN_JSON

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    def holds_run(self) -> bool:
        """Whether training has already written here (a checkpoint or metrics)."""
        return self.checkpoint.exists() or self.metrics.exists()

    def temp_files(self) -> list[Path]:
        """Temp files of writes that were interrupted (``kill -9`` mid-write): never read."""
        return sorted(self.path.glob(".*.tmp")) if self.path.is_dir() else []

    def remove_temp_files(self) -> None:
        for p in self.temp_files():
            p.unlink(missing_ok=True)

    # ----- metrics ----------------------------------------------------------------------------
    def write_metrics(self, rows: Iterable[Mapping[str, Any]]) -> None:
        write_text_atomic(self.metrics, metrics_text(rows))

    def read_metrics(self) -> list[dict[str, Any]]:
        """metrics.csv as a list of dicts ([] when absent)."""
        if not self.metrics.exists():
            return []
        try:
            rows = parse_metrics(self.metrics.read_text())
        except (OSError, UnicodeDecodeError, ValueError, OverflowError, csv.Error) as exc:
            raise RunError(f"run directory: cannot read {self.metrics} ({exc})") from None
        if any(not isinstance(r.get("step"), int) for r in rows):
            raise RunError(f"run directory: {self.metrics} has rows without an integer step")
        return rows

    # ----- run.json / config.yaml ---------------------------------------------------------------
    def write_meta(self, meta: Mapping[str, Any]) -> None:
        write_json_atomic(self.run_json, dict(meta))

    def read_meta(self) -> dict[str, Any]:
        if not self.run_json.is_file():
            raise RunError(f"run directory: {self.path} has no {RUN_JSON} (not a training run)")
        try:
            meta = json.loads(self.run_json.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunError(f"run directory: cannot read {self.run_json} ({exc})") from None
        if not isinstance(meta, dict):
            raise RunError(f"run directory: {self.run_json} is not a JSON object")
        return meta

    def write_config(self, text: str) -> None:
        write_text_atomic(self.config, text)

    # ----- checkpoints ------------------------------------------------------------------------
    def save_checkpoint(self, state: Mapping[str, Any]) -> Path:
        """torch.save to a temp file in the same folder, fsync, then rename."""
        payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state}
        return atomic_write(self.checkpoint, lambda fh: torch.save(payload, fh), mode="wb")

    def load_checkpoint(self, map_location: str | torch.device = "cpu") -> dict[str, Any]:
        return load_checkpoint(self.checkpoint, map_location)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load with the restricted (weights-only) unpickler and check the format tag."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint: no such file: {p}")
    try:
        state = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unpickling error"
        raise CheckpointError(
            f"checkpoint: {p} rejected by the weights-only loader ({first})"
        ) from None
    except Exception as exc:  # torch raises many types for a damaged archive
        raise CheckpointError(f"checkpoint: {p} is damaged or not a checkpoint ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint: {p} is not a dyncontract EDMSAC checkpoint")
    if state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"checkpoint: {p} has version {state.get('version')}, this code reads "
            f"{CHECKPOINT_VERSION}"
        )
    return state
