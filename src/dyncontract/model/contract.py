"""The two-period dynamic contract Phi and what it gives each side (model.md §5).

Shapes: ``T1, R1`` are (K,) — the period-1 item for reported type k; ``T2, R2`` are (K, K)
— row k is the period-2 menu after period-1 report k, column i the period-2 report.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dyncontract._io import write_json_atomic
from dyncontract.model.economics import cost, value
from dyncontract.model.scenario import Scenario


class ContractFormatError(ValueError):
    """A contract file or array that is not a well-formed contract (one-line message)."""


@dataclass(frozen=True, eq=False)
class Contract:
    T1: np.ndarray
    R1: np.ndarray
    T2: np.ndarray
    R2: np.ndarray

    def __post_init__(self) -> None:
        for name in ("T1", "R1", "T2", "R2"):
            arr = np.asarray(getattr(self, name), dtype=float)
            object.__setattr__(self, name, arr)
            if not np.all(np.isfinite(arr)):
                raise ContractFormatError(f"{name}: contains NaN or inf")
        k = self.T1.shape[0] if self.T1.ndim == 1 else -1
        if self.T1.ndim != 1 or k < 1:
            raise ContractFormatError(f"T1: must be a list of K numbers, got shape {self.T1.shape}")
        if self.R1.shape != (k,):
            raise ContractFormatError(f"R1: must have K={k} entries, got shape {self.R1.shape}")
        for name in ("T2", "R2"):
            if getattr(self, name).shape != (k, k):
                raise ContractFormatError(
                    f"{name}: must be a {k} x {k} matrix, got shape {getattr(self, name).shape}"
                )

    @property
    def K(self) -> int:  # noqa: N802
        return int(self.T1.shape[0])

    # ----- I/O ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, list]:
        return {
            "T1": self.T1.tolist(),
            "R1": self.R1.tolist(),
            "T2": self.T2.tolist(),
            "R2": self.R2.tolist(),
        }

    @classmethod
    def from_dict(cls, d: object) -> Contract:
        if not isinstance(d, dict):
            raise ContractFormatError("contract: must be a JSON object with T1, R1, T2, R2")
        if "contract" in d and isinstance(d["contract"], dict) and "T1" not in d:
            d = d["contract"]  # accept the output of `dyncontract solve --json`
        missing = [k for k in ("T1", "R1", "T2", "R2") if k not in d]
        if missing:
            raise ContractFormatError(f"{missing[0]}: missing from the contract")
        extra = sorted(set(d) - {"T1", "R1", "T2", "R2"})
        if extra:
            raise ContractFormatError(f"{extra[0]}: unknown key in the contract")
        arrays = {}
        for key in ("T1", "R1", "T2", "R2"):
            try:
                arrays[key] = np.asarray(d[key], dtype=float)
            except (TypeError, ValueError):
                raise ContractFormatError(f"{key}: must be numbers (a list or a matrix)") from None
        return cls(**arrays)

    def save(self, path: str | os.PathLike) -> Path:
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Contract:
        p = Path(path)
        try:
            text = p.read_text()
        except FileNotFoundError:
            raise ContractFormatError(f"{p}: no such file") from None
        except OSError as exc:
            raise ContractFormatError(f"{p}: cannot read ({exc.strerror})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContractFormatError(
                f"{p}: not valid JSON ({exc.msg}, line {exc.lineno})"
            ) from None
        return cls.from_dict(data)

    @classmethod
    def single_period(cls, T: np.ndarray, R: np.ndarray) -> Contract:
        """A static menu (T, R) offered unchanged in both periods, as a dynamic contract."""
        T = np.asarray(T, float)
        R = np.asarray(R, float)
        k = T.shape[0]
        return cls(T1=T, R1=R, T2=np.tile(T, (k, 1)), R2=np.tile(R, (k, 1)))


@dataclass(frozen=True)
class Utilities:
    """Truthful utilities: ``U1`` (K,), ``U2`` (K, K) [history k, type i], ``V`` (K,)."""

    U1: np.ndarray
    U2: np.ndarray
    V: np.ndarray


def utilities(c: Contract, sc: Scenario) -> Utilities:
    """U1_k = R1_k - C(theta_k, T1_k); U2_ki = R2_ki - C(theta_i, T2_ki);
    V_k = U1_k + delta sum_i Q_ki U2_ki."""
    U1 = c.R1 - cost(sc.theta, c.T1, sc)
    U2 = c.R2 - cost(sc.theta[None, :], c.T2, sc)
    V = U1 + sc.discount * np.sum(sc.transition * U2, axis=1)
    return Utilities(U1=U1, U2=U2, V=V)


def expected_profit(c: Contract, sc: Scenario) -> float:
    """Pi(Phi): the CS's expected profit per ES over both periods."""
    p, Q, d = sc.prior, sc.transition, sc.discount
    period1 = np.sum(p * (value(c.T1, sc) - c.R1))
    period2 = np.sum(p[:, None] * Q * (value(c.T2, sc) - c.R2))
    return float(period1 + d * period2)
