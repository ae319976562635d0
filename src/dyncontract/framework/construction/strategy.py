"""The CS's aggregation: FedAvg module by module, weighted by each ES's completed work.

For every module (perception, planning, memory, action) the CS averages the arrays of the
ESs that sent that module in this round, each weighted by the training steps it completed;
a module nobody trained keeps its current value. Replies are summed in ES order (not in the
order they arrived), so a seed gives bit-identical weights whatever the runtime's timing.
A server step then moves the global weights toward that average:
``w <- w + lr * m``, ``m <- momentum * m + (avg - w)`` (lr 1, momentum 0: plain FedAvg).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dyncontract.framework.construction.task import module_of


@dataclass(frozen=True)
class Update:
    """One ES's reply to a training order."""

    es: int
    steps: int  # completed work (the aggregation weight)
    arrays: dict[str, np.ndarray]


@dataclass
class ModuleFedAvg:
    """Module-wise, work-weighted FedAvg with an optional server step (see the module doc)."""

    server_learning_rate: float = 1.0
    server_momentum: float = 0.0
    _momentum: dict[str, np.ndarray] = field(default_factory=dict)

    def aggregate(
        self, weights: OrderedDict[str, np.ndarray], updates: Sequence[Update]
    ) -> tuple[OrderedDict[str, np.ndarray], dict[str, int]]:
        """New global weights from ``updates``, and the total work behind each module."""
        ordered = sorted(updates, key=lambda u: u.es)
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        work: dict[str, int] = {}
        for name, w in weights.items():
            total = np.zeros(w.shape, dtype=np.float64)
            steps = 0
            for u in ordered:
                if name in u.arrays and u.steps > 0:
                    total += u.steps * u.arrays[name].astype(np.float64)
                    steps += u.steps
            mod = module_of(name)
            work[mod] = max(work.get(mod, 0), steps)
            if steps == 0:
                out[name] = w.copy()
                continue
            delta = total / steps - w.astype(np.float64)
            if self.server_momentum > 0:
                m = self.server_momentum * self._momentum.get(name, 0.0) + delta
                self._momentum[name] = m
                delta = m
            out[name] = (w + self.server_learning_rate * delta).astype(w.dtype)
        return out, work
