"""Scenario: the market the contract is designed for (model.md §2–§4, §7).

Two representations of one thing:

* :class:`ScenarioConfig` — the validated YAML/CLI form (pydantic, unknown keys rejected,
  constraints declared on the fields). Its defaults (model.md §7) are the only ones.
* :class:`Scenario` — the numerical form used by every computation (numpy arrays), built
  from a ScenarioConfig (``to_scenario``) and never with defaults of its own.

``Scenario.default()`` is model.md §7. The persistence family Q(rho) and its inverse live in
:func:`persistence_matrix` / :func:`persistence_of` (numpy and torch alike).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Participation = Literal["per_period", "ex_ante"]

Unit = Annotated[float, Field(ge=0.0, le=1.0)]

#: Range of every positive scalar parameter (alpha, beta, kappa, tau, f_max, energy_price) and
#: of the types theta_k. Twelve orders of magnitude around the defaults; inside it every
#: quantity the model computes stays finite in float64 (the largest, the cost
#: xi kappa f_max^3 tau / theta_1 of the largest workload, is at most 1e36; the smallest
#: energies at least 1e-42), so solvers and the learning env never see inf or NaN. Outside it
#: the arithmetic overflows or underflows (``kappa = 1e308``: the cost is inf). See
#: docs/usage.md "Valid ranges".
SCALAR_MIN = 1e-6
SCALAR_MAX = 1e6
Positive = Annotated[float, Field(ge=SCALAR_MIN, le=SCALAR_MAX)]
#: Most types (the reduced program has O(K^2) variables, the full one O(K^3)).
MAX_K = 100
#: Most ESs (``n_es`` only scales totals; beyond this they lose integer precision in float64).
MAX_N_ES = 10**12

#: Tolerance on "sums to one" for the prior and the rows of the transition matrix.
SUM_TOL = 1e-9

DEFAULT_THETA = (1.0, 1.5, 2.0, 2.5, 3.0)
#: Persistence rho of the default transition matrix (model.md §7).
DEFAULT_PERSISTENCE = 0.7

#: Fields of :class:`ScenarioConfig` that are arrays in :class:`Scenario` (built, not copied).
_ARRAY_FIELDS = ("theta", "prior", "persistence", "transition")


def persistence_matrix(rho: Any, k: int) -> Any:
    """Q = rho I + (1 - rho) 1 u^T with u uniform: the persistence family of model.md §7.

    ``rho`` is a float (-> (k, k)), a numpy array (n,) (-> (n, k, k)) or a torch tensor (n,)
    (-> a tensor (n, k, k) of its dtype and device). The one home of the formula.
    """
    if hasattr(rho, "new_ones"):  # a torch tensor (no torch import in the model layer)
        eye = rho.new_zeros(k, k)
        eye.diagonal().fill_(1.0)
        r = rho[..., None, None]
        return r * eye + (1.0 - r) / k
    r = np.asarray(rho, dtype=float)[..., None, None]
    return r * np.eye(k) + (1.0 - r) / k


def persistence_of(Q: np.ndarray) -> float:
    """The rho of a persistence-family matrix (inverse of :func:`persistence_matrix`)."""
    Q = np.asarray(Q, dtype=float)
    return float(Q[0, 0] - Q[0, 1]) if Q.shape[0] > 1 else 1.0


class ScenarioConfig(BaseModel):
    """The ``scenario:`` section of a config file (model.md §7 defaults)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    theta: list[Positive] = list(DEFAULT_THETA)
    prior: list[float] | None = None
    #: rho of Q = rho I + (1 - rho) 1 u^T (default DEFAULT_PERSISTENCE; excludes transition)
    persistence: Unit | None = None
    transition: list[list[float]] | None = None
    discount: Unit = 0.9
    alpha: Positive = 10.0
    beta: Positive = 0.5
    kappa: Positive = 1.0
    tau: Positive = 10.0
    f_max: Positive = 3.0
    energy_price: Positive = 0.05
    n_es: Annotated[int, Field(ge=1, le=MAX_N_ES)] = 20
    participation: Participation = "per_period"

    @field_validator("theta")
    @classmethod
    def _theta(cls, v: list[float]) -> list[float]:
        if len(v) < 2:
            raise ValueError(f"needs at least 2 types (K >= 2), got {len(v)}")
        if len(v) > MAX_K:
            raise ValueError(f"at most {MAX_K} types (K <= {MAX_K}), got {len(v)}")
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
            rho = DEFAULT_PERSISTENCE if self.persistence is None else self.persistence
            q = persistence_matrix(rho, k)
        return Scenario(
            theta=np.asarray(self.theta, float), prior=prior, transition=q, **self._scalars()
        )

    def _scalars(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in type(self).model_fields if n not in _ARRAY_FIELDS}


@dataclass(frozen=True, eq=False)
class Scenario:
    """Numerical scenario. Arrays: ``theta`` (K,), ``prior`` (K,), ``transition`` (K, K);
    the scalar fields are those of :class:`ScenarioConfig`, whose defaults are the only ones.

    Build it through :class:`ScenarioConfig` (validated) or :meth:`default`; ``replace``
    returns a validated copy with some fields changed.
    """

    theta: np.ndarray
    prior: np.ndarray
    transition: np.ndarray
    discount: float
    alpha: float
    beta: float
    kappa: float
    tau: float
    f_max: float
    energy_price: float
    n_es: int
    participation: Participation

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
        scalars = {
            n: getattr(self, n) for n in ScenarioConfig.model_fields if n not in _ARRAY_FIELDS
        }
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
