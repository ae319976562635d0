"""Checkpoints: written atomically, read back with ``torch.load(..., weights_only=True)``.

A checkpoint is a dict of tensors and plain Python values only (no pickled classes), so the
restricted unpickler accepts it and rejects anything else — a tampered file that smuggles
code raises :class:`CheckpointError` before any of it runs.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from dyncontract._io import atomic_write

FORMAT = "dyncontract-edmsac-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (missing, damaged, tampered or of another format)."""


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """torch.save to a temp file in the same folder, fsync, then rename over ``path``."""
    payload = {"format": FORMAT, "version": VERSION, **state}
    return atomic_write(path, lambda fh: torch.save(payload, fh), mode="wb")


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
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint: {p} is damaged or not a checkpoint ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint: {p} is not a dyncontract EDMSAC checkpoint")
    if state.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint: {p} has version {state.get('version')}, this code reads {VERSION}"
        )
    return state
