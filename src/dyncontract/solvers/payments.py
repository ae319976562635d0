"""Least-payment map: rewards that make given workloads feasible at the least expected payment.

Given workloads (T1, T2) — equivalently energies E = kappa T^3 / tau^2 — every constraint of
model.md §5 is linear in the rewards (R1, R2), so the cheapest feasible rewards solve a linear
program. Two implementations:

* :func:`least_payment_lp` — the exact LP (scipy / HiGHS) with every constraint (full IC2).
  Infeasible LP <=> the workloads are not implementable.
* :func:`least_payment_fast` — a closed form, vectorised over any leading batch shape, that
  works on numpy arrays *and* torch tensors (CPU or CUDA). It is the "myopic" payment rule:

  1. period 2, per history k: the lowest type's IR2 binds and every downward local IC2 binds,
     so the rents are  U2[k, i] = sum_{j<i} (c_j - c_{j+1}) E2[k, j]  with c_j = xi / theta_j.
     This is the componentwise-least reward vector satisfying IR2 + IC2, and it exists iff
     every row E2[k, :] is non-decreasing (Lemma 1).
  2. period 1, with those continuation values W[k, l] = delta sum_i Q[k, i] U2[l, i] fixed,
     IC1 and IR1 are difference constraints  a_k - a_l >= g[k, l]  on the period-1 rents
     a = U1, with lower bounds (IR1, R1 >= 0). Their least solution is a longest-path problem,
     solved by K rounds of Bellman-Ford; a positive cycle means no rewards of this form work.

  When it is exact (equal to the LP): whenever the LP gains nothing by paying period-2
  rents above their least values to relax IC1 (backloading). Proven cases: Q with identical
  rows (i.i.d. types; then only V matters in IC1) — tested on random workloads. Measured
  (tests and docs/model.md): at the exact optimal workloads of the learning environment's
  scenario family (Q = rho I + (1 - rho)/K, per_period IR1) it equals the LP to ~1e-9; with
  general transition matrices, or ex_ante IR1, it is often strictly dearer at the optimum
  (57/150 resp. 102/150 random instances), because backloading then pays. It never returns
  an infeasible contract marked ``ok`` and never pays less than the LP (tested).

  Near bunching (IC1 binding both ways between two types, common at the optimum), solver
  noise in the workloads makes tiny positive cycles; ``tol`` decides how much of that is
  accepted (the returned contract then violates IC1 by at most about ``tol`` times the
  payment scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from dyncontract._arrays import is_torch, torch
from dyncontract.model.contract import Contract
from dyncontract.model.economics import energy
from dyncontract.model.scenario import Participation, Scenario


@dataclass(frozen=True)
class PaymentResult:
    contract: Contract
    implementable: bool
    status: str  # "optimal" | "infeasible" | any other HiGHS / fast-form status
    expected_payment: float


# ---------------------------------------------------------------------------------------------
# Fast closed form (numpy or torch)
# ---------------------------------------------------------------------------------------------
def least_payment_fast(
    E1: Any,
    E2: Any,
    c: Any,
    dQ: Any,
    participation: Participation = "per_period",
    tol: float = 1e-9,
) -> tuple[Any, Any, Any]:
    """Myopic least payments, batched.

    Args:
        E1: period-1 energies, shape (..., K).
        E2: period-2 energies, shape (..., K, K) [history k, report i].
        c: cost per joule xi / theta, shape (..., K) (or (K,), broadcast).
        dQ: discounted transition delta * Q, shape (..., K, K) (or (K, K)).
        participation: IR1 mode.
        tol: relative tolerance of the monotonicity and positive-cycle checks.

    Returns:
        ``(R1, R2, ok)`` with shapes (..., K), (..., K, K), (...) — ``ok`` is False where the
        workloads cannot be implemented by this rule (then R1, R2 are meaningless).
    """
    if is_torch(E1):
        xp, kw = torch, {"dim": -1}
        diag = lambda x: torch.diagonal(x, dim1=-2, dim2=-1)  # noqa: E731
    else:
        E1, E2, c, dQ = (np.asarray(x, dtype=float) for x in (E1, E2, c, dQ))
        xp, kw = np, {"axis": -1}
        diag = lambda x: np.diagonal(x, axis1=-2, axis2=-1)  # noqa: E731
    maximum, zeros_like, einsum = xp.maximum, xp.zeros_like, xp.einsum

    def cat(xs: list[Any]) -> Any:
        return (torch.cat if xp is torch else np.concatenate)(xs, **kw)

    def cumsum(x: Any) -> Any:
        return xp.cumsum(x, **kw)

    def amax(x: Any) -> Any:
        return xp.amax(x, **kw)

    K = E1.shape[-1]
    c2 = c[..., None, :]  # (..., 1, K) cost of period-2 type i
    # period 2: least rents per history
    inc = (c[..., :-1] - c[..., 1:])[..., None, :] * E2[..., :, :-1]  # (..., K, K-1)
    U2 = cat([zeros_like(E2[..., :, :1]), cumsum(inc)])
    R2 = U2 + c2 * E2
    scale = 1.0 + amax(amax(R2))
    mono_gap = amax(amax(E2[..., :, :-1] - E2[..., :, 1:])) if K > 1 else scale * 0
    ok = mono_gap <= tol * (1.0 + amax(amax(E2)))
    # period 1: difference constraints a_k - a_l >= g[k, l]
    W = einsum("...ki,...li->...kl", dQ + zeros_like(E2), U2)  # continuation values
    Wkk = diag(W)
    cE1 = c * E1
    g = (c[..., None, :] - c[..., :, None]) * E1[..., None, :] + W - Wkk[..., :, None]
    if participation == "per_period":
        lb = zeros_like(E1)
    else:
        lb = maximum(-Wkk, -cE1)
    a = lb
    for _ in range(K):
        a = maximum(lb, amax(a[..., None, :] + g))
    a_next = maximum(lb, amax(a[..., None, :] + g))
    ok = ok & (amax(a_next - a) <= tol * scale)
    R1 = a + cE1
    return R1, R2, ok


def least_payment_contract(T1: np.ndarray, T2: np.ndarray, sc: Scenario) -> PaymentResult:
    """Fast least payments for one scenario, as a :class:`PaymentResult`."""
    T1 = np.asarray(T1, float)
    T2 = np.asarray(T2, float)
    R1, R2, ok = least_payment_fast(
        energy(T1, sc),
        energy(T2, sc),
        sc.cost_per_joule,
        sc.discount * sc.transition,
        sc.participation,
    )
    contract = Contract(T1=T1, R1=R1, T2=T2, R2=R2)
    ok = bool(ok)
    return PaymentResult(
        contract=contract,
        implementable=ok,
        status="optimal" if ok else "not_implementable_by_fast_form",
        expected_payment=_expected_payment(R1, R2, sc) if ok else float("nan"),
    )


def _expected_payment(R1: np.ndarray, R2: np.ndarray, sc: Scenario) -> float:
    p, Q = sc.prior, sc.transition
    return float(p @ R1 + sc.discount * np.sum(p[:, None] * Q * R2))


# ---------------------------------------------------------------------------------------------
# Exact LP (HiGHS)
# ---------------------------------------------------------------------------------------------
def least_payment_lp(
    T1: np.ndarray, T2: np.ndarray, sc: Scenario, participation: Participation | None = None
) -> PaymentResult:
    """Exact least expected payment for workloads (T1, T2): an LP over (R1, R2), solved by HiGHS.

    Constraints: IR1 (by ``participation``), IR2, IC1, full IC2 (K^3), R >= 0.
    ``implementable`` is False exactly when the LP is infeasible.
    """
    mode = participation or sc.participation
    T1 = np.asarray(T1, float)
    T2 = np.asarray(T2, float)
    K = sc.K
    E1, E2 = energy(T1, sc), energy(T2, sc)
    c = sc.cost_per_joule
    Q, d, p = sc.transition, sc.discount, sc.prior
    C2 = c[None, :] * E2  # C(theta_i, T2[k, i]) (K, K)
    n = K + K * K
    r1 = np.arange(K)
    r2 = K + np.arange(K * K).reshape(K, K)
    rows, cols, vals, rhs = [], [], [], []
    row = 0

    def add(entries: list[tuple[np.ndarray, object]], b: np.ndarray) -> None:
        """Rows  sum_j val[r, j] * x[col[r, j]] <= b[r]; ``col``/``val`` shaped (m,) or (m, J)."""
        nonlocal row
        b = np.asarray(b, float).ravel()
        m = b.size
        ids = row + np.arange(m)
        for col, val in entries:
            col = np.asarray(col).reshape(m, -1)
            v = np.asarray(val, float)
            w = np.broadcast_to(v.reshape(m, -1) if v.ndim else v, col.shape)
            rows.append(np.repeat(ids, col.shape[1]))
            cols.append(col.ravel())
            vals.append(w.ravel())
        rhs.append(b)
        row += m

    # IR2: -R2[k, i] <= -C2[k, i]
    add([(r2.ravel(), -1.0)], -C2.ravel())
    # IC2: -R2[k, i] + R2[k, m] <= c_i (E2[k, m] - E2[k, i]),  m != i
    kk, ii, mm = np.nonzero(~np.eye(K, dtype=bool)[None, :, :].repeat(K, axis=0))
    add([(r2[kk, ii], -1.0), (r2[kk, mm], 1.0)], c[ii] * (E2[kk, mm] - E2[kk, ii]))
    # IR1
    if mode == "per_period":
        add([(r1, -1.0)], -c * E1)
    else:  # -(R1_k + d sum_i Q_ki R2_ki) <= -(c_k E1_k + d sum_i Q_ki C2_ki)
        add(
            [(r1, -1.0), (r2, -d * Q)],
            -(c * E1 + d * np.sum(Q * C2, axis=1)),
        )
    # IC1 (k, l), l != k
    ks, ls = np.nonzero(~np.eye(K, dtype=bool))
    b = (
        -c[ks] * E1[ks]
        + c[ks] * E1[ls]
        - d * np.sum(Q[ks] * C2[ks], axis=1)
        + d * np.sum(Q[ks] * C2[ls], axis=1)
    )
    add(
        [(r1[ks], -1.0), (r1[ls], 1.0), (r2[ks], -d * Q[ks]), (r2[ls], d * Q[ks])],
        b,
    )
    A = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(row, n)
    )
    obj = np.concatenate([p, d * (p[:, None] * Q).ravel()])
    res = linprog(obj, A_ub=A, b_ub=np.concatenate(rhs), bounds=(0, None), method="highs")
    status = {0: "optimal", 2: "infeasible", 3: "unbounded"}.get(res.status, f"highs_{res.status}")
    if res.status != 0:
        zero = Contract(T1=T1, R1=np.zeros(K), T2=T2, R2=np.zeros((K, K)))
        return PaymentResult(zero, False, status, float("nan"))
    x = res.x
    contract = Contract(T1=T1, R1=x[:K], T2=T2, R2=x[K:].reshape(K, K))
    return PaymentResult(contract, True, status, float(res.fun))
