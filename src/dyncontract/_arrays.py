"""Array helpers for code that runs on numpy arrays and torch tensors alike (stdlib + numpy;
torch only if installed). A base module every layer may import, like ``_io``."""

from __future__ import annotations

from typing import Any

try:  # torch is a dependency, but the model layer must not need it to import
    import torch
except ImportError:  # pragma: no cover
    torch = None  # type: ignore[assignment]


def is_torch(x: Any) -> bool:
    """Whether ``x`` is a torch tensor."""
    return torch is not None and isinstance(x, torch.Tensor)
