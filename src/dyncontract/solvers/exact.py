"""Exact optimal contracts as convex programs (cvxpy + CLARABEL).

Change of variables (model.md §5): with scaled energy e = E / E_max in [0, 1] and scaled
workload t = T / T_max, E = kappa T^3 / tau^2 gives e = t^3, so the relaxation
t <= e^(1/3) is a 3-D power cone and the CS's value G = alpha log(1 + beta T_max t) is
concave. Rewards are scaled by alpha (r = R / alpha). In these units every IR/IC constraint
is linear in (e, r) and the objective is concave, so the programs below are exact. At an
optimum t = e^(1/3) (raising t only raises G), so workloads are read back from e.

Programs are built once per shape with cvxpy Parameters (DPP) and cached, so repeated solves
for other scenarios of the same K skip the canonicalisation.

After the solve the contract is *polished*: workloads come from the solver, rewards from the
least-payment map (fast form if it is at least as good, else the exact LP), so the reported
contract satisfies the constraints to machine precision instead of the solver's tolerance.
The reported status is the solver's own; a status other than ``optimal`` is never relabelled.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import cvxpy as cp
import numpy as np

from dyncontract.model.contract import Contract, expected_profit
from dyncontract.model.economics import value
from dyncontract.model.scenario import Participation, Scenario
from dyncontract.solvers.payments import least_payment_contract, least_payment_lp

OPTIMAL = "optimal"


class SolverError(RuntimeError):
    """Raised when no solver attempt produced any usable solution."""


@dataclass
class SolveResult:
    """Outcome of an exact solve. ``profit`` is the expected CS profit per ES (model units)."""

    status: str
    profit: float
    contract: Contract | None
    solve_seconds: float
    program: str
    solver: str = "CLARABEL"
    objective: float = float("nan")  # solver's objective before polishing (model units)
    attempts: list[str] = field(default_factory=list)

    @property
    def optimal(self) -> bool:
        return self.status == OPTIMAL


@dataclass(frozen=True)
class MenuResult:
    """A single-period optimal menu (T, R) for a type distribution."""

    status: str
    T: np.ndarray
    R: np.ndarray
    profit: float  # expected one-period profit per ES
    solve_seconds: float


# ---------------------------------------------------------------------------------------------
# Program builders (cached by shape)
# ---------------------------------------------------------------------------------------------
def _outer(col: cp.Expression, K: int) -> cp.Expression:
    """(K,) -> (K, K) with M[k, j] = col[k]."""
    return cp.reshape(col, (K, 1), order="C") @ np.ones((1, K))


def _row(vec: cp.Expression, K: int) -> cp.Expression:
    """(K,) -> (K, K) with M[j, l] = vec[l]."""
    return np.ones((K, 1)) @ cp.reshape(vec, (1, K), order="C")


class _DynamicProgram:
    """max Pi over (t1, e1, r1, t2, e2, r2) subject to model.md §5, in scaled units.

    ``pairs`` lists the IC1 constraints (k, l) to include (all k != l when None).
    """

    def __init__(
        self,
        K: int,
        participation: Participation,
        reduced: bool,
        pairs: tuple[tuple[int, int], ...] | None = None,
    ) -> None:
        self.K = K
        if pairs is None:
            pairs = tuple((k, l) for k in range(K) for l in range(K) if k != l)
        self.ks = np.array([k for k, _ in pairs], dtype=int)
        self.ls = np.array([l for _, l in pairs], dtype=int)
        n = len(pairs)
        # parameters
        self.w1 = cp.Parameter(K, nonneg=True, name="p")  # p_k
        self.w2 = cp.Parameter((K, K), nonneg=True, name="delta_pQ")  # delta p_k Q_ki
        self.dQ = cp.Parameter((K, K), nonneg=True, name="delta_Q")
        self.c = cp.Parameter(K, nonneg=True, name="c")  # xi E_max / (alpha theta_k)
        self.C2 = cp.Parameter((K, K), nonneg=True, name="c_cols")  # C2[k, i] = c_i
        self.b = cp.Parameter(nonneg=True, name="beta_Tmax")
        self.c_k = cp.Parameter(n, nonneg=True, name="c_of_k")  # c_k for each IC1 pair
        self.dQ_k = cp.Parameter((n, K), nonneg=True, name="delta_Q_of_k")  # dQ[k, :] per pair
        # variables
        t1, e1, r1 = cp.Variable(K), cp.Variable(K), cp.Variable(K, nonneg=True)
        t2, e2, r2 = cp.Variable((K, K)), cp.Variable((K, K)), cp.Variable((K, K), nonneg=True)
        U1, U2 = cp.Variable(K), cp.Variable((K, K))
        self.t1, self.e1, self.r1, self.t2, self.e2, self.r2 = t1, e1, r1, t2, e2, r2
        self.U1, self.U2 = U1, U2
        V = U1 + cp.sum(cp.multiply(self.dQ, U2), axis=1)
        cons = [
            U1 == r1 - cp.multiply(self.c, e1),
            U2 == r2 - cp.multiply(self.C2, e2),
            # workload <-> energy: t <= e^(1/3), 0 <= e <= 1 (T <= T_max)
            cp.PowCone3D(e1, np.ones(K), t1, 1.0 / 3.0),
            cp.PowCone3D(cp.vec(e2, order="C"), np.ones(K * K), cp.vec(t2, order="C"), 1.0 / 3.0),
            e1 <= 1,
            e2 <= 1,
        ]
        # IR1
        cons.append(U1 >= 0 if participation == "per_period" else V >= 0)
        if reduced:
            # tractable conditions: monotone workloads + local IC2; IR2 of the lowest type
            cons += [
                U2[:, 0] >= 0,  # IR2 (lowest type)
                e2[:, 1:] >= e2[:, :-1],  # monotonicity (Lemma 1)
                U2[:, 1:] >= r2[:, :-1] - cp.multiply(self.C2[:, 1:], e2[:, :-1]),  # IC2 down
                U2[:, :-1] >= r2[:, 1:] - cp.multiply(self.C2[:, :-1], e2[:, 1:]),  # IC2 up
            ]
        else:
            cons.append(U2 >= 0)  # IR2
            for m in range(K):  # IC2[k, i, m]: U2[k, i] >= R2[k, m] - c_i E2[k, m]
                dev = _outer(r2[:, m], K) - cp.multiply(self.C2, _outer(e2[:, m], K))
                cons.append(U2 >= dev)
        if n:
            # IC1[k, l]: V_k >= r1_l - c_k e1_l + sum_i dQ[k, i] U2[l, i]
            ks, ls = self.ks, self.ls
            cons.append(
                V[ks]
                >= r1[ls]
                - cp.multiply(self.c_k, e1[ls])
                + cp.sum(cp.multiply(self.dQ_k, U2[ls, :]), axis=1)
            )
        obj = cp.sum(cp.multiply(self.w1, cp.log(1 + self.b * t1) - r1)) + cp.sum(
            cp.multiply(self.w2, cp.log(1 + self.b * t2) - r2)
        )
        self.problem = cp.Problem(cp.Maximize(obj), cons)

    def set(self, sc: Scenario) -> None:
        K = self.K
        cs = sc.energy_price * sc.e_max / (sc.alpha * sc.theta)
        self.w1.value = sc.prior
        self.w2.value = sc.discount * sc.prior[:, None] * sc.transition
        self.dQ.value = sc.discount * sc.transition
        self.c.value = cs
        self.C2.value = np.tile(cs, (K, 1))
        self.b.value = sc.beta * sc.t_max
        self.c_k.value = cs[self.ks]
        self.dQ_k.value = sc.discount * sc.transition[self.ks]

    def ic1_slack(self, sc: Scenario) -> np.ndarray:
        """Slack of every IC1[k, l] at the current solution (scaled units), zero diagonal."""
        cs = sc.energy_price * sc.e_max / (sc.alpha * sc.theta)
        e1, r1, U1, U2 = self.e1.value, self.r1.value, self.U1.value, self.U2.value
        dQ = sc.discount * sc.transition
        V = U1 + np.sum(dQ * U2, axis=1)
        dev = r1[None, :] - cs[:, None] * e1[None, :] + dQ @ U2.T
        slack = V[:, None] - dev
        np.fill_diagonal(slack, 0.0)
        return slack


class _MenuProgram:
    """Single-period screening: max sum_k w_k (log(1 + b t_k) - r_k) s.t. IR, IC."""

    def __init__(self, K: int, reduced: bool) -> None:
        self.K = K
        self.w = cp.Parameter(K, nonneg=True)
        self.c = cp.Parameter(K, nonneg=True)
        self.b = cp.Parameter(nonneg=True)
        t, e, r = cp.Variable(K), cp.Variable(K), cp.Variable(K, nonneg=True)
        U = cp.Variable(K)
        self.t, self.e, self.r = t, e, r
        cons = [U == r - cp.multiply(self.c, e), cp.PowCone3D(e, np.ones(K), t, 1.0 / 3.0), e <= 1]
        if reduced:
            cons += [
                U[0] >= 0,
                e[1:] >= e[:-1],
                U[1:] >= r[:-1] - cp.multiply(self.c[1:], e[:-1]),
                U[:-1] >= r[1:] - cp.multiply(self.c[:-1], e[1:]),
            ]
        else:
            dev = _row(r, K) - cp.reshape(self.c, (K, 1), order="C") @ cp.reshape(
                e, (1, K), order="C"
            )
            slack = _outer(U, K) - dev
            off = np.flatnonzero(~np.eye(K, dtype=bool).ravel(order="C"))
            cons += [U >= 0, cp.vec(slack, order="C")[off] >= 0]
        obj = cp.sum(cp.multiply(self.w, cp.log(1 + self.b * t) - r))
        self.problem = cp.Problem(cp.Maximize(obj), cons)


@lru_cache(maxsize=32)
def _dynamic_program(
    K: int,
    participation: Participation,
    reduced: bool,
    pairs: tuple[tuple[int, int], ...] | None = None,
) -> _DynamicProgram:
    return _DynamicProgram(K, participation, reduced, pairs)


#: Up to this K, IC1 is included whole (one compiled program per K, reused across scenarios);
#: above it, IC1 is generated lazily (see :func:`solve_dynamic`).
IC1_ALL_UP_TO_K = 12


@lru_cache(maxsize=64)
def _menu_program(K: int, reduced: bool) -> _MenuProgram:
    return _MenuProgram(K, reduced)


# ---------------------------------------------------------------------------------------------
# Solving with status discipline
# ---------------------------------------------------------------------------------------------
#: CLARABEL settings tried in turn until one reports "optimal". The exponential and power
#: cones occasionally stall ("InsufficientProgress") at the default step length; shorter
#: steps or more equilibration recover those cases (measured on K = 20..50 instances).
_ATTEMPTS = (
    ("CLARABEL", {}),
    ("CLARABEL", {"max_step_fraction": 0.9}),
    ("CLARABEL", {"equilibrate_max_iter": 50, "max_iter": 400}),
    ("CLARABEL", {"max_step_fraction": 0.8, "max_iter": 600}),
)


def _solve(problem: cp.Problem) -> tuple[str, str, list[str]]:
    """Solve with CLARABEL, retrying with other settings unless the status is optimal."""
    attempts: list[str] = []
    status, solver = "solver_error", "CLARABEL"
    for solver, opts in _ATTEMPTS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                problem.solve(solver=solver, **opts)
            status = problem.status
        except cp.error.SolverError as exc:  # pragma: no cover - depends on numerics
            status = f"solver_error: {exc}".splitlines()[0]
        attempts.append(f"{solver}{opts or ''}: {status}")
        if status == OPTIMAL:
            break
    return status, solver, attempts


def solve_dynamic(
    sc: Scenario,
    *,
    reduced: bool = True,
    participation: Participation | None = None,
    ic1: Literal["auto", "all", "lazy"] = "auto",
    polish: bool = True,
    max_rounds: int = 20,
) -> SolveResult:
    """The optimal two-period dynamic contract (model.md §5).

    Args:
        sc: the scenario.
        reduced: use the tractable conditions (monotone T2 + local IC2, O(K^2) constraints)
            instead of the full K^3 IC2 set. Both reach the same optimum (tested).
        participation: IR1 mode; defaults to ``sc.participation``.
        ic1: ``"all"`` puts all K(K-1) IC1 constraints in the program; ``"lazy"`` starts from
            the local ones (k, k +- 1) and adds every violated IC1 until none is violated
            (constraint generation: exact, since the relaxation's optimum is then feasible
            for the whole program); ``"auto"`` is "all" up to K = IC1_ALL_UP_TO_K.
        polish: recompute the rewards of the solver's workloads with the least-payment map.
        max_rounds: bound on constraint-generation rounds (status ``"ic1_not_converged"``).
    """
    mode = participation or sc.participation
    K = sc.K
    lazy = ic1 == "lazy" or (ic1 == "auto" and K > IC1_ALL_UP_TO_K)
    name = f"dynamic-{'reduced' if reduced else 'full'}-{mode}"
    t0 = time.perf_counter()
    pairs: tuple[tuple[int, int], ...] | None = None
    if lazy:
        pairs = tuple(
            sorted({(k, k - 1) for k in range(1, K)} | {(k, k + 1) for k in range(K - 1)})
        )
    attempts: list[str] = []
    for _ in range(max_rounds):
        prog = _dynamic_program(K, mode, reduced, pairs)
        prog.set(sc)
        status, solver, tried = _solve(prog.problem)
        attempts += tried
        if prog.e1.value is None or not lazy or status != OPTIMAL:
            break
        slack = prog.ic1_slack(sc)
        violated = {(int(k), int(l)) for k, l in np.argwhere(slack < -1e-8)}
        if not violated:
            break
        pairs = tuple(sorted(set(pairs or ()) | violated))
    else:
        status = "ic1_not_converged"
    if prog.e1.value is None:
        return SolveResult(
            status, float("nan"), None, time.perf_counter() - t0, name, solver, attempts=attempts
        )
    objective = float(prog.problem.value) * sc.alpha
    T1 = sc.t_max * np.cbrt(np.clip(prog.e1.value, 0.0, 1.0))
    T2 = sc.t_max * np.cbrt(np.clip(prog.e2.value, 0.0, 1.0))
    raw = Contract(
        T1=T1,
        R1=np.maximum(prog.r1.value, 0) * sc.alpha,
        T2=T2,
        R2=np.maximum(prog.r2.value, 0) * sc.alpha,
    )
    sc_mode = sc if mode == sc.participation else sc.replace(participation=mode)
    contract = _polish(raw, sc_mode, objective) if polish else raw
    return SolveResult(
        status,
        expected_profit(contract, sc),
        contract,
        time.perf_counter() - t0,
        name + ("-lazyIC1" if lazy else ""),
        solver,
        objective,
        attempts,
    )


def _polish(raw: Contract, sc: Scenario, objective: float) -> Contract:
    """Least-payment rewards for the solver's workloads, if they are not worse than the solver's.

    Within one row the solver's workloads can be non-monotone by ~1e-9 (solver tolerance);
    a running maximum removes that before the payments are computed.
    """
    T2 = np.maximum.accumulate(raw.T2, axis=1)
    tol = 1e-7 * max(1.0, abs(objective))
    fast = least_payment_contract(raw.T1, T2, sc)
    if fast.implementable and expected_profit(fast.contract, sc) >= objective - tol:
        return fast.contract
    lp = least_payment_lp(raw.T1, T2, sc)
    if lp.implementable and expected_profit(lp.contract, sc) >= objective - tol:
        return lp.contract
    return raw


def solve_menu(
    sc: Scenario, weights: np.ndarray | None = None, *, reduced: bool = True
) -> MenuResult:
    """Optimal single-period menu for type distribution ``weights`` (default: the prior)."""
    w = sc.prior if weights is None else np.asarray(weights, float)
    t0 = time.perf_counter()
    prog = _menu_program(sc.K, reduced)
    prog.w.value = w
    prog.c.value = sc.energy_price * sc.e_max / (sc.alpha * sc.theta)
    prog.b.value = sc.beta * sc.t_max
    status, _, _ = _solve(prog.problem)
    if prog.e.value is None:
        nan = np.full(sc.K, np.nan)
        return MenuResult(status, nan, nan, float("nan"), time.perf_counter() - t0)
    e = np.maximum.accumulate(np.clip(prog.e.value, 0.0, 1.0))
    T = sc.t_max * np.cbrt(e)
    # least payments of a single-period menu: IR of the lowest type and local downward IC bind
    c = sc.cost_per_joule
    E = e * sc.e_max
    U = np.concatenate([[0.0], np.cumsum((c[:-1] - c[1:]) * E[:-1])])
    R = U + c * E
    profit = float(np.sum(w * (value(T, sc) - R)))
    return MenuResult(status, T, R, profit, time.perf_counter() - t0)
