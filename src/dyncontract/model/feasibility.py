"""Feasibility of a dynamic contract: every constraint of model.md §5, by name.

Constraint names (as in model.md): ``IR1``, ``IR2``, ``IC1``, ``IC2`` and ``bounds``.
Indices are 0-based: IR1 (k,), IR2 (k, i), IC1 (k, l) = "type k reporting l",
IC2 (k, i, m) = "after period-1 report k, period-2 type i reporting m".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dyncontract.model.contract import Contract, utilities
from dyncontract.model.economics import cost
from dyncontract.model.scenario import Participation, Scenario

#: Default absolute tolerance (reward units) under which a shortfall is not a violation.
DEFAULT_TOL = 1e-6


@dataclass(frozen=True)
class Violation:
    constraint: str  # IR1 | IR2 | IC1 | IC2 | bounds
    index: tuple[int, ...]
    magnitude: float
    detail: str = ""

    def describe(self) -> str:
        idx = ",".join(str(i) for i in self.index)
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.constraint}[{idx}] violated by {self.magnitude:.6g}{extra}"


@dataclass
class FeasibilityReport:
    feasible: bool
    max_violation: float
    tolerance: float
    violations: list[Violation] = field(default_factory=list)

    def by_constraint(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self.violations:
            out[v.constraint] = out.get(v.constraint, 0) + 1
        return out

    def to_dict(self, limit: int | None = None) -> dict:
        vs = self.violations if limit is None else self.violations[:limit]
        return {
            "feasible": self.feasible,
            "max_violation": self.max_violation,
            "tolerance": self.tolerance,
            "counts": self.by_constraint(),
            "violations": [
                {"constraint": v.constraint, "index": list(v.index), "magnitude": v.magnitude}
                for v in vs
            ],
        }


def constraint_slacks(
    c: Contract, sc: Scenario, participation: Participation | None = None
) -> dict[str, np.ndarray]:
    """Slack of every constraint (>= 0 means satisfied), keyed by constraint name.

    Shapes: IR1 (K,), IR2 (K, K), IC1 (K, K) with a zero diagonal, IC2 (K, K, K),
    and bounds entries ``T1_low`` ... ``R2_low`` shaped like the contract.
    """
    mode = participation or sc.participation
    u = utilities(c, sc)
    d, Q, theta = sc.discount, sc.transition, sc.theta
    ir1 = u.U1 if mode == "per_period" else u.V
    # IC2[k, i, m] = U2[k, i] - (R2[k, m] - C(theta_i, T2[k, m]))
    dev2 = c.R2[:, None, :] - cost(theta[None, :, None], c.T2[:, None, :], sc)
    ic2 = u.U2[:, :, None] - dev2
    # IC1[k, l] = V_k - (R1_l - C(theta_k, T1_l) + delta sum_i Q[k, i] U2[l, i])
    dev1 = c.R1[None, :] - cost(theta[:, None], c.T1[None, :], sc) + d * Q @ u.U2.T
    ic1 = u.V[:, None] - dev1
    np.fill_diagonal(ic1, 0.0)
    tmax = sc.t_max
    return {
        "IR1": ir1,
        "IR2": u.U2,
        "IC1": ic1,
        "IC2": ic2,
        "T1_low": c.T1,
        "T1_high": tmax - c.T1,
        "T2_low": c.T2,
        "T2_high": tmax - c.T2,
        "R1_low": c.R1,
        "R2_low": c.R2,
    }


def check_feasibility(
    c: Contract,
    sc: Scenario,
    tol: float = DEFAULT_TOL,
    participation: Participation | None = None,
) -> FeasibilityReport:
    """Every violated constraint of model.md §5 with its indices and shortfall.

    A constraint counts as violated when its slack is below ``-tol``.
    """
    if c.K != sc.K:
        raise ValueError(f"contract has K={c.K} types, the scenario has K={sc.K}")
    slacks = constraint_slacks(c, sc, participation)
    violations: list[Violation] = []
    max_v = 0.0
    for name, s in slacks.items():
        worst = float(-s.min()) if s.size else 0.0
        max_v = max(max_v, worst)
        constraint = name if name in ("IR1", "IR2", "IC1", "IC2") else "bounds"
        detail = "" if constraint == name else name
        for idx in zip(*np.nonzero(s < -tol), strict=True):
            index = tuple(int(i) for i in idx)
            violations.append(Violation(constraint, index, float(-s[index]), detail))
    violations.sort(key=lambda v: -v.magnitude)
    return FeasibilityReport(
        feasible=not violations, max_violation=max(max_v, 0.0), tolerance=tol, violations=violations
    )
