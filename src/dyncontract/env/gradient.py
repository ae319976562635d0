"""The structured-mode profit as a differentiable torch function of the action.

In the structured mode a contract's rewards come from the closed-form least-payment map
(:func:`~dyncontract.solvers.payments.least_payment_fast`): sorting, cumulative sums, an
einsum and K rounds of Bellman-Ford written with ``maximum``/``amax``. All of it is
piecewise smooth in the workloads, so the expected profit is differentiable almost everywhere
w.r.t. the action (``clip`` has zero gradient outside [-1, 1]; a policy should squash with
``tanh``). :meth:`BatchedContractEnv.step` runs under ``no_grad``; this module calls the same
``contracts``/``profit`` code with autograd on, so the numbers are identical (tested).

The infeasible boundary
-----------------------
The payment map fails (``ok`` False) when the IC1 difference constraints
a_k - a_l >= g[k, l] on the period-1 rents have a positive cycle (or, with
``monotone="none"``, when a period-2 row is not monotone). Optimal contracts usually sit *on*
that boundary: bunching makes a 2-cycle g[k, l] + g[l, k] exactly zero. An infeasible
contract scores 0 in evaluation, so a learner must stay inside.

:func:`implementability_gap` gives a signed, continuous distance to the boundary in payment
units: the largest weight of a closed walk of length 2..K in the graph g (max-plus matrix
powers; <= 0 iff no positive cycle, i.e. iff the map succeeds), and the largest monotonicity
shortfall of a period-2 row priced at the highest cost per joule. :func:`surrogate_objective`
is what gradient-based learners maximise:

    profit - penalty * relu(gap + margin)

``profit`` is the map's profit (outside the boundary, with the K-round Bellman-Ford iterate,
which is continuous across the boundary); ``penalty`` is an exact-penalty weight (per unit of
payment, larger than the constraint's multiplier, so the surrogate's maximiser does not cross
the boundary); ``margin`` (payment units) moves that maximiser strictly inside, at
gap = -margin, so that small errors of an amortised policy do not flip it to infeasible. The
cost of the margin is about multiplier * margin in profit.
"""

from __future__ import annotations

import torch

from dyncontract.env.batched import BatchedContractEnv


def differentiable_contracts(
    env: BatchedContractEnv, obs: torch.Tensor, action: torch.Tensor
) -> dict[str, torch.Tensor]:
    """``env.contracts`` with autograd enabled (structured mode only)."""
    if env.mode != "structured":
        raise ValueError("differentiable profit: the env must be in structured mode")
    with torch.enable_grad():
        return env.contracts(obs, action)


def differentiable_profit(
    env: BatchedContractEnv, obs: torch.Tensor, action: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected profit per ES (n,) float64 with gradients w.r.t. ``action``, and ``ok`` (n,).

    ``profit`` equals ``env.step(obs, action)["profit"]`` for every state; where ``ok`` is
    False the least-payment map failed and the contract is not implementable (evaluation
    scores it 0), ``profit`` there is the map's non-converged value, meaningful only as part
    of :func:`surrogate_objective`.
    """
    ct = differentiable_contracts(env, obs, action)
    with torch.enable_grad():
        return env.profit(ct), ct["ok"]


def _maxplus(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """(A ⊗ B)[k, l] = max_j A[k, j] + B[j, l], batched."""
    return (A[..., :, :, None] + B[..., None, :, :]).amax(dim=-2)


def implementability_gap(env: BatchedContractEnv, ct: dict[str, torch.Tensor]) -> torch.Tensor:
    """Signed distance to the payment map's infeasible boundary, payment units, shape (n,).

    <= 0: the least-payment map succeeds (up to its tolerance); > 0: it fails. Computed from
    the contract dict of :func:`differentiable_contracts` (differentiable).
    """
    sc = env.base
    K = env.K
    c, Q = ct["c"], ct["Q"]
    E1 = sc.kappa * ct["T1"] ** 3 / sc.tau**2
    E2 = sc.kappa * ct["T2"] ** 3 / sc.tau**2
    # period-2 least rents per history (as in least_payment_fast, recomputed so that the
    # gap does not depend on R2 being finite where the map failed)
    inc = (c[:, :-1] - c[:, 1:])[:, None, :] * E2[:, :, :-1]
    U2 = torch.cat([torch.zeros_like(E2[:, :, :1]), torch.cumsum(inc, dim=-1)], dim=-1)
    W = torch.einsum("nki,nli->nkl", sc.discount * Q, U2)
    Wkk = torch.diagonal(W, dim1=-2, dim2=-1)
    g = (c[:, None, :] - c[:, :, None]) * E1[:, None, :] + W - Wkk[:, :, None]
    # closed walks of length 2..K: diagonal of the max-plus powers of g without self-loops
    eye = torch.eye(K, dtype=torch.bool, device=g.device)
    g = g.masked_fill(eye, float("-inf"))
    walk = g
    best = torch.full_like(c[:, 0], float("-inf"))
    for _ in range(K - 1):
        walk = _maxplus(walk, g)
        best = torch.maximum(best, torch.diagonal(walk, dim1=-2, dim2=-1).amax(dim=-1))
    if K == 1:
        best = torch.zeros_like(c[:, 0]) - 1.0
    # a decreasing period-2 row (possible only with monotone="none"); equal neighbours
    # (pooled period-2 types) are implementable and do not count
    if K > 1 and env.cfg.monotone == "none":
        mono = (E2[:, :, :-1] - E2[:, :, 1:]).amax(dim=(-1, -2)) * c.amax(dim=-1)
        best = torch.where(mono > 0, torch.maximum(best, mono), best)
    return best


def surrogate_objective(
    env: BatchedContractEnv,
    obs: torch.Tensor,
    action: torch.Tensor,
    penalty: float = 10.0,
    margin: float = 1e-3,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(objective, profit, ok)``, each (n,): objective = profit - penalty * relu(gap + margin).

    ``penalty`` is per unit of payment gap, ``margin`` in payment units (see module doc).
    ``profit`` and ``ok`` are :func:`differentiable_profit`'s.
    """
    ct = differentiable_contracts(env, obs, action)
    with torch.enable_grad():
        profit = env.profit(ct)
        gap = implementability_gap(env, ct)
        obj = profit - penalty * torch.relu(gap + margin)
    return obj, profit, ct["ok"]
