"""From an action in [-1, 1]^d to a contract (shared by the gymnasium and the batched env).

* structured: d = K + K^2. ``a[:K]`` are the period-1 workloads, ``a[K:]`` the period-2
  workloads row by row (history k, report i); T = T_max (a + 1) / 2. Rewards come from the
  least-payment map.
* raw: d = 2K + 2K^2: the structured part, then R1 (K) and R2 (K^2), R = R_max (a + 1) / 2.

Works on numpy arrays and torch tensors with a leading batch dimension.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dyncontract._arrays import is_torch


def action_dim(K: int, mode: str) -> int:
    return K + K * K if mode == "structured" else 2 * (K + K * K)


def _sort(x: Any) -> Any:
    if is_torch(x):
        return x.sort(dim=-1).values
    return np.sort(x, axis=-1)


def split_action(a: Any, K: int, t_max: float, mode: str, monotone: str, r_max: float) -> tuple:
    """``a`` (n, d) -> (T1 (n, K), T2 (n, K, K), R1, R2) with R1/R2 None in structured mode."""
    n = a.shape[0]
    a = a.clip(-1.0, 1.0) if hasattr(a, "clip") else a
    T = t_max * (a[:, : K + K * K] + 1.0) / 2.0
    T1 = T[:, :K]
    T2 = T[:, K:].reshape(n, K, K)
    if mode == "structured" and monotone in ("both", "period2"):
        T2 = _sort(T2)  # Lemma 1: implementable period-2 menus are monotone
    if mode == "structured" and monotone == "both":
        T1 = _sort(T1)  # a restriction: optimal T1 need not be monotone (docs/env.md)
    if mode == "structured":
        return T1, T2, None, None
    R = r_max * (a[:, K + K * K :] + 1.0) / 2.0
    return T1, T2, R[:, :K], R[:, K:].reshape(n, K, K)


def shaped_reward(
    profit: Any,
    ok: Any,
    max_violation: Any,
    total_violation: Any,
    mode: str,
    reward_scale: float,
    infeasible_penalty: float,
    violation_penalty: float,
) -> Any:
    """The env's reward from a contract's profit and feasibility (numpy or torch, batched).

    structured: profit / scale where the least-payment map succeeded, else
    -(infeasible_penalty + max_violation / scale). raw: (profit - violation_penalty *
    total_violation) / scale.
    """
    if mode == "raw":
        return (profit - violation_penalty * total_violation) / reward_scale
    bad = -(infeasible_penalty + max_violation / reward_scale)
    good = profit / reward_scale
    if is_torch(profit):
        return good.where(ok, bad)
    return np.where(ok, good, bad)
