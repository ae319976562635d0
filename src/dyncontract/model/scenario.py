"""Scenario: the market the contract is designed for (model.md §2–§4, §7).

Two representations:

* :class:`ScenarioConfig` — the validated YAML/CLI form (pydantic, unknown keys rejected);
* :class:`Scenario` — the numerical form used by every computation (numpy arrays).

``ScenarioConfig(...).to_scenario()`` turns the first into the second; ``Scenario.default()``
is model.md §7.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

Participation = Literal["per_period", "ex_ante"]

#: Tolerance on "sums to one" for the prior and the rows of the transition matrix.
SUM_TOL = 1e-9

DEFAULT_THETA = (1.0, 1.5, 2.0, 2.5, 3.0)

#: Fields shared verbatim by ScenarioConfig and Scenario (the arrays are converted).
SCALAR_FIELDS = (
    "discount", "alpha", "beta", "kappa", "tau", "f_max", "energy_price", "n_es", "participation",
)  # fmt: skip


def persistence_matrix(rho: float, k: int, target: np.ndarray | None = None) -> np.ndarray:
    """Q = rho I + (1 - rho) 1 q^T, with q uniform unless ``target`` is given."""
    q = np.full(k, 1.0 / k) if target is None else np.asarray(target, dtype=float)
    return rho * np.eye(k) + (1.0 - rho) * np.outer(np.ones(k), q)


class ScenarioConfig(BaseModel):
    """The ``scenario:`` section of a config file (model.md §7 defaults)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    theta: list[float] = list(DEFAULT_THETA)
    prior: list[float] | None = None
    persistence: float | None = None
    transition: list[list[float]] | None = None
    discount: float = 0.9
    alpha: float = 10.0
    beta: float = 0.5
    kappa: float = 1.0
    tau: float = 10.0
    f_max: float = 3.0
    energy_price: float = 0.05
    n_es: int = 20
    participation: Participation = "per_period"

    @field_validator("theta")
    @classmethod
    def _theta(cls, v: list[float]) -> list[float]:
        if len(v) < 2:
            raise ValueError(f"needs at least 2 types (K >= 2), got {len(v)}")
        if any(x <= 0 for x in v):
            raise ValueError("every type must be > 0")
        if any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise ValueError("must be strictly increasing")
        return v

    @field_validator("prior")
    @classmethod
    def _prior(cls, v: list[float] | None) -> list[float] | None:
        if v is None:
            return v
        if any(x <= 0 for x in v):
            raise ValueError("every probability must be > 0")
        s = math.fsum(v)
        if abs(s - 1.0) > SUM_TOL:
            raise ValueError(f"must sum to 1 (sums to {s:.12g})")
        return v

    @field_validator("persistence")
    @classmethod
    def _rho(cls, v: float | None) -> float | None:
        if v is not None and not 0.0 <= v <= 1.0:
            raise ValueError(f"must be in [0, 1], got {v}")
        return v

    @field_validator("discount")
    @classmethod
    def _delta(cls, v: float) -> float:
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"must be in [0, 1], got {v}")
        return v

    @field_validator("alpha", "beta", "kappa", "tau", "f_max", "energy_price")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError(f"must be > 0, got {v}")
        return v

    @field_validator("n_es")
    @classmethod
    def _n_es(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"must be >= 1, got {v}")
        return v

    @model_validator(mode="after")
    def _shapes(self) -> ScenarioConfig:
        k = len(self.theta)
        if self.prior is not None and len(self.prior) != k:
            raise ValueError(f"prior: has {len(self.prior)} entries, theta has K={k}")
        if self.persistence is not None and self.transition is not None:
            raise ValueError("persistence/transition: give one of them, not both")
        if self.transition is not None:
            q = self.transition
            if len(q) != k or any(len(row) != k for row in q):
                raise ValueError(f"transition: must be a {k} x {k} matrix (K={k})")
            for i, row in enumerate(q):
                if any(x < 0 for x in row):
                    raise ValueError(f"transition: row {i} has a negative entry")
                s = math.fsum(row)
                if abs(s - 1.0) > SUM_TOL:
                    raise ValueError(f"transition: row {i} must sum to 1 (sums to {s:.12g})")
        return self

    def to_scenario(self) -> Scenario:
        k = len(self.theta)
        prior = np.full(k, 1.0 / k) if self.prior is None else np.asarray(self.prior, float)
        prior = prior / prior.sum()
        if self.transition is not None:
            q = np.asarray(self.transition, float)
            q = q / q.sum(axis=1, keepdims=True)
        else:
            rho = 0.7 if self.persistence is None else self.persistence
            q = persistence_matrix(rho, k)
        scalars = {name: getattr(self, name) for name in SCALAR_FIELDS}
        return Scenario(theta=np.asarray(self.theta, float), prior=prior, transition=q, **scalars)


@dataclass(frozen=True, eq=False)
class Scenario:
    """Numerical scenario. Arrays: ``theta`` (K,), ``prior`` (K,), ``transition`` (K, K).

    Build it through :class:`ScenarioConfig` (validated) or :meth:`default`; ``replace``
    returns a validated copy with some fields changed.
    """

    theta: np.ndarray
    prior: np.ndarray
    transition: np.ndarray
    discount: float = 0.9
    alpha: float = 10.0
    beta: float = 0.5
    kappa: float = 1.0
    tau: float = 10.0
    f_max: float = 3.0
    energy_price: float = 0.05
    n_es: int = 20
    participation: Participation = "per_period"

    @staticmethod
    def default(**overrides: object) -> Scenario:
        """The default scenario of model.md §7, with optional field overrides."""
        return ScenarioConfig(**overrides).to_scenario()  # type: ignore[arg-type]

    def replace(self, **changes: object) -> Scenario:
        """A validated copy with ``changes`` applied (same keys as the YAML section)."""
        cfg = self.to_config().model_dump()
        if "transition" in changes or "persistence" in changes:
            cfg["transition"] = None
        cfg.update(
            {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in changes.items()}
        )
        if cfg.get("persistence") is None and cfg.get("transition") is None:
            cfg["transition"] = self.transition.tolist()
        return ScenarioConfig(**cfg).to_scenario()

    def to_config(self) -> ScenarioConfig:
        scalars = {name: getattr(self, name) for name in SCALAR_FIELDS}
        return ScenarioConfig(
            theta=self.theta.tolist(),
            prior=self.prior.tolist(),
            transition=self.transition.tolist(),
            **scalars,
        )

    # ----- derived quantities -------------------------------------------------------------
    @property
    def K(self) -> int:  # noqa: N802 - the model's symbol
        return int(self.theta.shape[0])

    @property
    def t_max(self) -> float:
        """Largest workload T_max = f_max * tau (Gcycles)."""
        return self.f_max * self.tau

    @property
    def e_max(self) -> float:
        """Energy of the largest workload, E(T_max) (J)."""
        return self.kappa * self.t_max**3 / self.tau**2

    @property
    def cost_per_joule(self) -> np.ndarray:
        """c_k = xi / theta_k: cost to type k of one joule, shape (K,)."""
        return self.energy_price / self.theta

    @property
    def period2_prior(self) -> np.ndarray:
        """Distribution of period-2 types, p Q, shape (K,)."""
        return self.prior @ self.transition

    def fields(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
