"""From an action in [-1, 1]^d to a contract (shared by the gymnasium and the batched env).

* structured: d = K + K^2. ``a[:K]`` are the period-1 workloads, ``a[K:]`` the period-2
  workloads row by row (history k, report i); T = T_max (a + 1) / 2. Rewards come from the
  least-payment map.
* menu: d = 2K + 2K^2: T1 (K), T2 (K^2, row by row), then the payment part. The workloads
  are not sorted; the payments come from :func:`menu_payments`: ``free``
  (R = R_max (a + 1) / 2) or ``rent`` (R = the cost of the item's intended type + a rent:
  cumulative non-negative steps in period 2, one rent per item in period 1). The ESs then
  choose from the menu (:mod:`dyncontract.model.choice`).

Works on numpy arrays and torch tensors with a leading batch dimension.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dyncontract._arrays import is_torch


def _cumsum(x: Any) -> Any:
    return x.cumsum(dim=-1) if is_torch(x) else np.cumsum(x, axis=-1)


def _scale(a: Any, lo: float, hi: float) -> Any:
    return lo + (hi - lo) * (a + 1.0) / 2.0


def _cat_last(a: Any, b: Any) -> Any:
    if is_torch(a):
        import torch

        return torch.cat([a, b], dim=-1)
    return np.concatenate([a, b], axis=-1)


def menu_payments(
    a_r1: Any,
    a_r2: Any,
    T1: Any,
    T2: Any,
    c: Any,
    kappa: float,
    tau: float,
    payments: str,
    r_max: float,
    rent_max: float,
    rent1_min: float = 0.0,
    ic_scale_max: float = 2.0,
    ic_scale_min: float = 0.0,
    Q: Any = None,
    discount: float = 0.0,
) -> tuple[Any, Any]:
    """Menu-mode payments from the payment part of the action (numpy or torch, batched).

    ``a_r1`` (n, K) and ``a_r2`` (n, K, K) in [-1, 1]; ``c`` (n, K) cost per joule.

    * ``free``: R = r_max (a + 1) / 2, in [0, r_max].
    * ``rent``: every item pays its intended type's cost plus a rent (that type's utility
      from a truthful report). Period 2: R2[l, i] = c_i E(T2[l, i]) + s[l, 1] + ... + s[l, i]
      with steps s = rent_max (a + 1) / 2 >= 0 — a cumulative rent, since within a period-2
      menu every implementable contract gives more willing types (weakly) more utility.
      Period 1: R1_k = c_k E(T1_k) + r_k, one rent per item in [rent1_min, rent_max]: not
      cumulative, because the optimal period-1 rents are not monotone in the type (rents can
      be paid in period 2 instead; cumulative period-1 rents cost up to 0.4 % of the optimum
      on default states). ``rent1_min`` is 0 where IR1 is U1 >= 0 and may be negative where
      it is V >= 0 (ex_ante).
    * ``rent_cum``: as ``rent``, and period 1 cumulative too: R1_k = c_k E(T1_k) + r_0 +
      s_1 + ... + s_k with r_0 in [rent1_min, rent_max] and steps s = rent_max (a + 1) / 2 >= 0
      (the order of ``rent`` in period 2; the optimal period-1 rents need not be monotone,
      which costs up to 0.4 % of the optimum on default states, see ``rent``).
    * ``ic_rent``: as ``rent``, but each period-2 step above the lowest type is measured in
      units of the local downward IC rent: s[l, i] = u (c_{i-1} - c_i) E(T2[l, i-1]) with
      u = ic_scale_max (a + 1) / 2 >= 0 (u = 1: type i is just indifferent to type i-1's
      item). The policy still sets every rent (any u >= 0, rents never negative); only the
      unit changes, from a fixed amount to the state's and menu's own rent scale. The first
      step s[l, 0] and period 1 are as in ``rent``.
    * ``ic_rent_both``: as ``ic_rent``, and period 1 likewise cumulative: R1_k = c_k E(T1_k)
      + r_0 + sum_{j=1..k} u_j (c_{j-1} - c_j) E(T1_{j-1}), r_0 in [rent1_min, rent_max]
      (u = 0 everywhere: no period-1 rent above r_0; u = 1: the static contract's period-1
      rents for these workloads).

    * ``ic_rent_fwd``: as ``ic_rent_both``, but the period-1 unit also counts what type k
      would gain in period 2 from reporting k - 1 if everyone then chose truthfully:
      unit_k = max(0, (c_{k-1} - c_k) E(T1_{k-1}) + discount sum_i Q[k, i] (U2[k-1, i] -
      U2[k, i])), U2 the period-2 rents just built (``Q`` (n, K, K) and ``discount``
      needed). u = 1 makes the forward-looking local downward IC bind on that path.

    In the ic modes u = ic_scale_min + (ic_scale_max - ic_scale_min) (a + 1) / 2 (default
    ic_scale_min 0; a positive one keeps every local downward IC rent at least that share).
    """
    if payments == "free":
        return r_max * (a_r1 + 1.0) / 2.0, r_max * (a_r2 + 1.0) / 2.0
    if payments not in ("rent", "rent_cum", "ic_rent", "ic_rent_both", "ic_rent_fwd"):
        raise ValueError(
            "menu_payments: must be 'free', 'rent', 'rent_cum', 'ic_rent', 'ic_rent_both' or "
            f"'ic_rent_fwd', got {payments!r}"
        )
    E1 = kappa * T1**3 / tau**2
    E2 = kappa * T2**3 / tau**2
    U1 = _scale(a_r1, rent1_min, rent_max)  # (n, K): period-1 rents, one per item
    if payments == "rent_cum":  # r_0, then non-negative steps in fixed units
        U1 = _cumsum(_cat_last(U1[:, :1], _scale(a_r1[:, 1:], 0.0, rent_max)))
    steps = _scale(a_r2, 0.0, rent_max)
    if payments in ("ic_rent", "ic_rent_both", "ic_rent_fwd"):
        unit = (c[:, None, :-1] - c[:, None, 1:]) * E2[..., :-1]  # (n, K, K - 1), >= 0
        steps = _cat_last(steps[..., :1], _scale(a_r2[..., 1:], ic_scale_min, ic_scale_max) * unit)
    U2 = _cumsum(steps)  # (n, K, K): period-2 rent of type i under history l
    if payments in ("ic_rent_both", "ic_rent_fwd"):
        unit1 = (c[:, :-1] - c[:, 1:]) * E1[:, :-1]  # (n, K - 1)
        if payments == "ic_rent_fwd":
            # sum_i Q[k, i] (U2[k-1, i] - U2[k, i]) for k = 1..K-1
            gain = (Q[:, 1:, :] * (U2[:, :-1, :] - U2[:, 1:, :])).sum(-1)
            unit1 = unit1 + discount * gain
            unit1 = unit1.clamp(min=0.0) if is_torch(unit1) else np.maximum(unit1, 0.0)
        U1 = _cumsum(_cat_last(U1[:, :1], _scale(a_r1[:, 1:], ic_scale_min, ic_scale_max) * unit1))
    return c * E1 + U1, c[:, None, :] * E2 + U2


def action_dim(K: int, mode: str) -> int:
    return K + K * K if mode == "structured" else 2 * (K + K * K)


def _sort(x: Any) -> Any:
    if is_torch(x):
        return x.sort(dim=-1).values
    return np.sort(x, axis=-1)


def split_action(a: Any, K: int, t_max: float, mode: str, monotone: str, r_max: float) -> tuple:
    """``a`` (n, d) -> (T1 (n, K), T2 (n, K, K), R1, R2) with R1/R2 None in structured mode
    and, in menu mode, the clipped payment actions (n, K), (n, K, K) in place of R1/R2
    (``r_max`` is unused here; menu_payments prices them)."""
    n = a.shape[0]
    a = a.clip(-1.0, 1.0) if hasattr(a, "clip") else a
    T = t_max * (a[:, : K + K * K] + 1.0) / 2.0
    T1 = T[:, :K]
    T2 = T[:, K:].reshape(n, K, K)
    if mode == "menu":  # payments: menu_payments (they need the state's costs)
        a_r = a[:, K + K * K :]
        return T[:, :K], T[:, K:].reshape(n, K, K), a_r[:, :K], a_r[:, K:].reshape(n, K, K)
    if mode == "structured" and monotone in ("both", "period2"):
        T2 = _sort(T2)  # Lemma 1: implementable period-2 menus are monotone
    if mode == "structured" and monotone == "both":
        T1 = _sort(T1)  # a restriction: optimal T1 need not be monotone (docs/env.md)
    return T1, T2, None, None


def shaped_reward(
    profit: Any,
    ok: Any,
    max_violation: Any,
    reward_scale: float,
    infeasible_penalty: float,
) -> Any:
    """The structured mode's reward (numpy or torch, batched): profit / scale where the
    least-payment map succeeded, else -(infeasible_penalty + max_violation / scale)."""
    bad = -(infeasible_penalty + max_violation / reward_scale)
    good = profit / reward_scale
    if is_torch(profit):
        return good.where(ok, bad)
    return np.where(ok, good, bad)
