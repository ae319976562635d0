"""Rational self-selection from an arbitrary menu (model.md §5, "Self-selection").

The one home of the rules by which an ES picks items from a posted menu (or declines). The
simulator (:mod:`dyncontract.framework.behaviour`) and the learning environment's menu mode
(:mod:`dyncontract.env`) both call :func:`choose`. It works on a batch of ``n`` menus and
market states at once, in torch float64:

* menus: ``T1, R1`` (n, K), ``T2, R2`` (n, K, K) — row l of ``T2``/``R2`` is the period-2
  menu after period-1 report l;
* states: ``Q`` (n, K, K) the type transition, ``c`` (n, K) the cost per joule of each type
  (xi / theta_k), ``prior`` (n, K) where profits are needed;
* constants of the scenario ``sc`` (kappa, tau, T_max, delta, alpha, beta, participation).

Rules (in this order, with the absolute tie tolerance ``tol`` of :func:`tie_tolerance_abs`):

1. An item whose workload is outside [0, T_max] cannot be built within the period
   (f = T / tau > f_max) and is never picked (its utility is -inf).
2. Period 2 (history l, true type i): utilities ``u2[l, i, m] = R2[l, m] - c_i E(T2[l, m])``.
   Under ``per_period`` an item is acceptable when ``u2 >= -tol`` (the ES walks away when every
   item loses it money); under ``ex_ante`` every buildable item is acceptable (committed).
3. Period 1 (true type k), forward-looking: ``W[k, l] = R1_l - c_k E(T1_l) + delta sum_i
   Q[k, i] u2(l, i)`` with ``u2(l, i)`` the utility of the period-2 choice (0 if it declines).
   Under ``per_period`` with ``acceptance="own_period"`` (default) item l is acceptable when
   its own period-1 utility is ``>= -tol``; otherwise (``ex_ante``, or ``forward_looking``)
   when ``W >= -tol``.
4. With no acceptable item the ES declines (:data:`DECLINE`). Otherwise it takes the truthful
   item when that is acceptable and within ``tol`` of the best acceptable value, else the best
   one (the lowest index among exact ties).

The tolerance is a fixed scale of the scenario, never a function of the menu: with
``tie_tolerance`` (relative, default 1e-6), ``tol = tie_tolerance * max(1, G(T_max))`` where
``G(T_max) = alpha ln(1 + beta T_max)`` is the CS's largest valuation of one module — no
sensible payment exceeds it. (A tolerance relative to the menu's own |R| let one unbuildable
item with R = 1e8 make ESs accept losses of ~100.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from dyncontract.model.scenario import Participation, Scenario

#: Report code for "declines (does not sign / walks away)".
DECLINE = -1

Acceptance = Literal["own_period", "forward_looking"]

#: Relative slack of the workload bound (T <= T_max (1 + BUILD_RTOL) is buildable).
BUILD_RTOL = 1e-12


def reference_participation(participation: Participation, acceptance: Acceptance) -> str:
    """The participation mode of the exact program whose optimum bounds every menu under
    these rules. ``per_period`` with ``forward_looking`` period-1 acceptance lets an ES take
    a period-1 loss that its continuation value repays — IR1 becomes V >= 0 while it can
    still walk away in period 2 (IR2) — which is the ``ex_ante`` program: its optimum, not the
    ``per_period`` one, is the bound (menus measured to earn up to 0.6 % more than the
    ``per_period`` optimum there)."""
    return "ex_ante" if acceptance == "forward_looking" else participation


def tie_scale(sc: Scenario) -> float:
    """The scenario's payment scale for ties: ``max(1, alpha ln(1 + beta T_max))``."""
    return max(1.0, float(sc.alpha * math.log1p(sc.beta * sc.t_max)))


def tie_tolerance_abs(sc: Scenario, tie_tolerance: float = 1e-6) -> float:
    """Absolute tie tolerance: ``tie_tolerance * tie_scale(sc)`` (independent of any menu)."""
    return float(tie_tolerance) * tie_scale(sc)


@dataclass(frozen=True)
class Choices:
    """The choices of every (type, history) in a batch of ``n`` menus (torch tensors).

    ``period1`` (n, K) [true k] and ``period2`` (n, K, K) [history l, true i] hold reports
    (:data:`DECLINE` = -1), int64; ``u1`` (n, K, K) [true k, report l]; ``u2`` (n, K, K, K)
    [history l, true i, report m]; ``cont`` (n, K, K) [l, i] the utility of the period-2
    choice (0 if it declines); ``W`` (n, K, K) [k, l] forward-looking period-1 values;
    ``tol`` the absolute tie tolerance. Unbuildable items have utility -inf.
    """

    period1: torch.Tensor
    period2: torch.Tensor
    u1: torch.Tensor
    u2: torch.Tensor
    cont: torch.Tensor
    W: torch.Tensor
    tol: float


def _f64(x: object, device: torch.device | None = None) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64, device=device)


def buildable(T: torch.Tensor, t_max: float) -> torch.Tensor:
    """Whether workload T can be built within the period: 0 <= T <= T_max (rel. 1e-12)."""
    return (T >= 0.0) & (T <= t_max * (1.0 + BUILD_RTOL))


def _pick(
    values: torch.Tensor, truthful: torch.Tensor, acceptable: torch.Tensor, tol: float
) -> torch.Tensor:
    """Choice along the last axis (see the module docstring, rule 4)."""
    neg_inf = torch.tensor(-math.inf, dtype=values.dtype, device=values.device)
    masked = torch.where(acceptable, values, neg_inf)
    best, best_idx = masked.max(dim=-1)
    # torch.max returns *some* maximal index; the rule wants the first one
    is_best = masked == best[..., None]
    first = torch.argmax(is_best.to(torch.int8), dim=-1)
    best_idx = torch.where(torch.isneginf(best), best_idx, first)
    t = truthful[..., None]
    t_val = torch.gather(masked, -1, t)[..., 0]
    t_ok = torch.gather(acceptable, -1, t)[..., 0]
    choice = torch.where(t_ok & (t_val >= best - tol), truthful, best_idx)
    return torch.where(acceptable.any(dim=-1), choice, torch.full_like(choice, DECLINE))


def choose(
    T1: torch.Tensor,
    R1: torch.Tensor,
    T2: torch.Tensor,
    R2: torch.Tensor,
    Q: torch.Tensor,
    c: torch.Tensor,
    sc: Scenario,
    *,
    tol: float,
    acceptance: Acceptance = "own_period",
    participation: Participation | None = None,
) -> Choices:
    """How every (type, history) chooses from each of ``n`` menus (module docstring).

    ``T1, R1, c`` (n, K); ``T2, R2, Q`` (n, K, K). Only ``kappa, tau, t_max, discount`` and
    ``participation`` (unless given) are read from ``sc``. ``tol`` is absolute (use
    :func:`tie_tolerance_abs`).
    """
    if acceptance not in ("own_period", "forward_looking"):
        raise ValueError(f"acceptance: must be own_period or forward_looking, got {acceptance!r}")
    mode = participation or sc.participation
    if mode not in ("per_period", "ex_ante"):
        raise ValueError(f"participation: must be per_period or ex_ante, got {mode!r}")
    dev = T1.device if isinstance(T1, torch.Tensor) else None
    T1, R1, T2, R2, Q, c = (_f64(x, dev) for x in (T1, R1, T2, R2, Q, c))
    n, K = T1.shape
    tol = float(tol)
    neg_inf = torch.tensor(-math.inf, dtype=torch.float64, device=T1.device)
    idx = torch.arange(K, device=T1.device)
    e1 = sc.kappa * T1**3 / sc.tau**2
    e2 = sc.kappa * T2**3 / sc.tau**2

    # ----- period 2: history l, true type i, report m ---------------------------------------
    ok2 = buildable(T2, sc.t_max)  # (n, l, m)
    u2 = R2[:, :, None, :] - c[:, None, :, None] * e2[:, :, None, :]  # (n, l, i, m)
    avail2 = ok2[:, :, None, :].expand(n, K, K, K)
    u2 = torch.where(avail2, u2, neg_inf)
    truth2 = idx[None, None, :].expand(n, K, K)
    accept2 = avail2 & (u2 >= -tol) if mode == "per_period" else avail2
    period2 = _pick(u2, truth2, accept2, tol)
    taken2 = torch.gather(u2, -1, period2.clamp(min=0)[..., None])[..., 0]
    cont = torch.where(period2 >= 0, taken2, torch.zeros_like(taken2))  # (n, l, i)

    # ----- period 1: true type k, report l ----------------------------------------------------
    ok1 = buildable(T1, sc.t_max)  # (n, l)
    avail1 = ok1[:, None, :].expand(n, K, K)
    u1 = torch.where(avail1, R1[:, None, :] - c[:, :, None] * e1[:, None, :], neg_inf)  # (n,k,l)
    # W[k, l] = u1[k, l] + delta sum_i Q[k, i] cont[l, i]
    W = u1 + sc.discount * (Q[:, :, None, :] * cont[:, None, :, :]).sum(-1)
    if mode == "per_period" and acceptance == "own_period":
        accept1 = avail1 & (u1 >= -tol)
    else:
        accept1 = avail1 & (W >= -tol)
    period1 = _pick(W, idx[None, :].expand(n, K), accept1, tol)
    return Choices(period1=period1, period2=period2, u1=u1, u2=u2, cont=cont, W=W, tol=tol)


def outcome_profits(
    ch: Choices,
    T1: torch.Tensor,
    R1: torch.Tensor,
    T2: torch.Tensor,
    R2: torch.Tensor,
    sc: Scenario,
) -> torch.Tensor:
    """(n, K, K) [k, i]: the CS's profit from an ES of period-1 type k and period-2 type i,
    ``pi1 + delta pi2`` of the items it picks (a decline brings no value and no payment)."""
    T1, R1, T2, R2 = (_f64(x, ch.W.device) for x in (T1, R1, T2, R2))
    n, K = T1.shape
    pi1 = sc.alpha * torch.log1p(sc.beta * T1) - R1  # (n, l)
    pi2 = sc.alpha * torch.log1p(sc.beta * T2) - R2  # (n, l, m)
    in1 = ch.period1 >= 0  # (n, k)
    h = ch.period1.clamp(min=0)
    p1 = torch.where(in1, torch.gather(pi1, 1, h), torch.zeros_like(pi1))  # (n, k)
    r2 = torch.gather(ch.period2, 1, h[:, :, None].expand(n, K, K))  # (n, k, i): report
    in2 = in1[:, :, None] & (r2 >= 0)
    rows = torch.gather(pi2, 1, h[:, :, None].expand(n, K, K))  # (n, k, m): menu of history
    p2 = torch.gather(rows, 2, r2.clamp(min=0))
    p2 = torch.where(in2, p2, torch.zeros_like(p2))
    return p1[:, :, None] + sc.discount * p2


def expected_profit_under_choice(
    ch: Choices,
    T1: torch.Tensor,
    R1: torch.Tensor,
    T2: torch.Tensor,
    R2: torch.Tensor,
    prior: torch.Tensor,
    Q: torch.Tensor,
    sc: Scenario,
) -> torch.Tensor:
    """(n,) the CS's expected profit per ES when every type picks by :func:`choose`."""
    table = outcome_profits(ch, T1, R1, T2, R2, sc)
    dev = table.device
    w = _f64(prior, dev)[:, :, None] * _f64(Q, dev)
    return (w * table).sum((-1, -2))


def draw_type_pairs(
    prior: torch.Tensor,
    Q: torch.Tensor,
    n_es: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(n, n_es) int64: the (period-1, period-2) type pair ``k K + i`` of each of ``n_es``
    ESs per state, drawn from ``p_k Q[k, i]``."""
    prior = _f64(prior)
    n, K = prior.shape
    w = (prior[:, :, None] * _f64(Q, prior.device)).reshape(n, K * K)
    return torch.multinomial(w.clamp(min=0), int(n_es), replacement=True, generator=generator)


def sampled_profit(
    table: torch.Tensor,
    prior: torch.Tensor,
    Q: torch.Tensor,
    n_es: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(n,) realised average profit of ``n_es`` ESs per state, types drawn from p and Q.

    ``table`` is :func:`outcome_profits`; each ES's (period-1, period-2) type pair is drawn
    from ``p_k Q[k, i]`` (:func:`draw_type_pairs`).
    """
    return sampled_outcomes(table, None, prior, Q, n_es, generator)[0]


def sampled_outcomes(
    table: torch.Tensor,
    ch: Choices | None,
    prior: torch.Tensor,
    Q: torch.Tensor,
    n_es: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What a CS that posts each menu to ``n_es`` ESs observes: ``(profit, picks)``.

    ``profit`` (n,): the realised average profit (as :func:`sampled_profit`, same draws);
    ``picks`` (n, K + 1, K + 1) float64 (None without ``ch``): how many of the drawn ESs made
    each (period-1 report, period-2 report) pair of choices, index K = declined (a period-1
    decline is recorded as (K, K): no period 2). The types themselves stay private.
    """
    n, K, _ = table.shape
    draws = draw_type_pairs(prior, Q, n_es, generator)
    profit = torch.gather(table.reshape(n, K * K), 1, draws).mean(dim=1)
    if ch is None:
        return profit, None
    k, i = draws // K, draws % K
    r1 = torch.gather(ch.period1, 1, k)  # (n, n_es), DECLINE = -1
    hist = r1.clamp(min=0)
    r2 = ch.period2[torch.arange(n, device=draws.device)[:, None], hist, i]
    r2 = torch.where(r1 >= 0, r2, torch.full_like(r2, DECLINE))
    r1, r2 = torch.where(r1 >= 0, r1, K), torch.where(r2 >= 0, r2, K)
    picks = torch.zeros(n, (K + 1) ** 2, dtype=torch.float64, device=draws.device)
    picks.scatter_add_(1, r1 * (K + 1) + r2, torch.ones_like(r1, dtype=torch.float64))
    return profit, picks.reshape(n, K + 1, K + 1)


@dataclass(frozen=True)
class SoftChoices:
    """Choice probabilities of :func:`soft_choose` (torch, differentiable).

    ``P1`` (n, K, K + 1) [true k, report l]; ``P2`` (n, K, K, K + 1) [history l, true i,
    report m]; the last index is "declines" (probability 0 where declining is not an option).
    ``u1``, ``u2``, ``W`` as in :class:`Choices`; ``cont`` (n, K, K) [l, i] the expected
    utility of the period-2 choice.
    """

    P1: torch.Tensor
    P2: torch.Tensor
    u1: torch.Tensor
    u2: torch.Tensor
    cont: torch.Tensor
    W: torch.Tensor


def soft_choose(
    T1: torch.Tensor,
    R1: torch.Tensor,
    T2: torch.Tensor,
    R2: torch.Tensor,
    Q: torch.Tensor,
    c: torch.Tensor,
    sc: Scenario,
    *,
    tau: float,
    acceptance: Acceptance = "own_period",
    participation: Participation | None = None,
    truthful_bonus: float = 1.0,
) -> SoftChoices:
    """The rules of :func:`choose` with a logit (softmax) noise of temperature ``tau``.

    Each ES picks among its options with probabilities proportional to ``exp(value / tau)``:
    period 2 over the items of row l by ``u2`` (plus declining at utility 0 under
    ``per_period``), period 1 over reports by ``W`` computed with the *expected* period-2
    utilities (plus declining at 0; under ``per_period`` with ``own_period`` acceptance an
    item is acceptable with probability ``sigmoid(u1 / tau)``, the soft version of
    "U1 >= 0", and the ES picks among the acceptable ones: :func:`_soft_own_period`).
    The truthful item gets a logit bonus ``truthful_bonus`` (the hard rule sends ties to it).
    As ``tau -> 0`` the probabilities tend to the hard choice away from ties. Items are taken
    as buildable (every action's workloads are); the tie tolerance plays no role here.
    Differentiable in the menu and in ``c`` (e.g. to fit unknown types by likelihood).
    """
    if acceptance not in ("own_period", "forward_looking"):
        raise ValueError(f"acceptance: must be own_period or forward_looking, got {acceptance!r}")
    mode = participation or sc.participation
    n, K = T1.shape
    bonus = truthful_bonus * torch.eye(K, dtype=T1.dtype, device=T1.device)
    e1 = sc.kappa * T1**3 / sc.tau**2
    e2 = sc.kappa * T2**3 / sc.tau**2
    per_period = mode == "per_period"

    u2 = R2[:, :, None, :] - c[:, None, :, None] * e2[:, :, None, :]  # (n, l, i, m)
    logit2 = u2 / tau + bonus
    zero2 = torch.zeros_like(logit2[..., :1])
    if per_period:
        P2 = torch.softmax(torch.cat([logit2, zero2], dim=-1), dim=-1)
    else:
        P2 = torch.cat([torch.softmax(logit2, dim=-1), zero2], dim=-1)
    cont = (P2[..., :K] * u2).sum(-1)  # (n, l, i)

    u1 = R1[:, None, :] - c[:, :, None] * e1[:, None, :]  # (n, k, l)
    W = u1 + sc.discount * torch.einsum("nki,nli->nkl", Q, cont)
    logit1 = W / tau + bonus
    if per_period and acceptance == "own_period":
        P1 = _soft_own_period(logit1, u1 / tau)
    else:  # acceptance by W itself: declining (value 0) competes with the items
        P1 = torch.softmax(torch.cat([logit1, torch.zeros_like(logit1[..., :1])], dim=-1), -1)
    return SoftChoices(P1=P1, P2=P2, u1=u1, u2=u2, cont=cont, W=W)


def _soft_own_period(logit1: torch.Tensor, accept_logit: torch.Tensor) -> torch.Tensor:
    """Period-1 probabilities (n, K, K + 1) under ``own_period`` acceptance with noise: item l
    is acceptable with probability sigmoid(u1 / tau), independently (logistic noise on the
    threshold U1 >= 0), and the ES picks among the acceptable items (and declining) by the
    softmax of ``logit1`` — the expectation over all 2^K acceptable sets. As tau -> 0 this is
    the hard rule: the best acceptable item by W, even when an unacceptable one has a higher W
    (a penalty ``log sigmoid(u1 / tau)`` added to the logits is not: it loses to W's gap)."""
    K = logit1.shape[-1]
    idx = torch.arange(K, device=logit1.device)
    bits = torch.arange(2**K, device=logit1.device)[:, None] >> idx
    sets = (bits & 1).to(logit1.dtype)  # (S, K): 1 where item l is acceptable in set S
    log_a = torch.nn.functional.logsigmoid(accept_logit)  # (n, k, l)
    log_na = torch.nn.functional.logsigmoid(-accept_logit)
    log_w = log_a @ sets.T + log_na @ (1.0 - sets).T  # (n, k, S): log Pr(acceptable set = S)
    # log of the softmax denominator of each set (declining, logit 0, is always an option)
    off = torch.where(sets.bool(), 0.0, -math.inf)  # (S, K)
    x = torch.cat([logit1[..., None, :] + off, torch.zeros_like(log_w)[..., None]], dim=-1)
    log_coef = log_w - torch.logsumexp(x, dim=-1)  # (n, k, S): log Pr(S) / denominator(S)
    # Pr(l) = exp(logit_l) sum_{S containing l} Pr(S) / denominator(S); declining: exp(0) sum_S
    log_items = logit1 + torch.logsumexp(log_coef[..., :, None] + off, dim=-2)
    log_p = torch.cat([log_items, torch.logsumexp(log_coef, dim=-1, keepdim=True)], dim=-1)
    return torch.exp(log_p)


def soft_pick_probabilities(sch: SoftChoices, prior: torch.Tensor, Q: torch.Tensor) -> torch.Tensor:
    """(n, K + 1, K + 1): the probability that a random ES (types drawn from p and Q) makes
    each (period-1 report, period-2 report) pair of choices under :func:`soft_choose` — the
    law of :func:`sampled_outcomes`' ``picks`` (index K = declined; a period-1 decline is
    (K, K))."""
    n, K = prior.shape
    # Pr(r1 = l, r2 = m) = sum_k p_k P1[k, l] sum_i Q[k, i] P2[l, i, m]
    joint = torch.einsum("nk,nkl,nki,nlim->nlm", prior, sch.P1[..., :K], Q, sch.P2)
    declined = (prior * sch.P1[..., K]).sum(-1)  # (n,)
    last = torch.cat([torch.zeros_like(joint[:, :1, :K]), declined[:, None, None]], dim=-1)
    return torch.cat([joint, last], dim=1)


def truthfulness(ch: Choices, prior: torch.Tensor, Q: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(rate, truthful)``, shape (n,) each: ``rate`` = probability that an ES picks its own
    item in both periods and never declines (weighted by p_k Q[k, i]); ``truthful`` = every
    (k, i) of positive probability does."""
    n, K = ch.period1.shape
    idx = torch.arange(K, device=ch.period1.device)
    ok1 = ch.period1 == idx  # (n, k)
    ok2 = ch.period2 == idx[None, None, :]  # (n, l, i); on the truthful path l = k
    ok = ok1[:, :, None] & ok2
    w = _f64(prior, ok.device)[:, :, None] * _f64(Q, ok.device)
    rate = (w * ok).sum((-1, -2)) / w.sum((-1, -2))
    truthful = (ok | (w <= 0)).flatten(1).all(dim=1)
    return rate, truthful


# ----- numpy in, numpy out (one menu; the simulator) ------------------------------------------
@dataclass(frozen=True)
class ChoiceArrays:
    """:class:`Choices` of one menu as numpy arrays (no batch dimension)."""

    period1: np.ndarray
    period2: np.ndarray
    u1: np.ndarray
    u2: np.ndarray
    cont: np.ndarray
    W: np.ndarray
    tol: float


def _one_menu(
    T1: np.ndarray,
    R1: np.ndarray,
    T2: np.ndarray,
    R2: np.ndarray,
    sc: Scenario,
    tie_tolerance: float = 1e-6,
    acceptance: Acceptance = "own_period",
    participation: Participation | None = None,
) -> tuple[Choices, list[torch.Tensor], torch.Tensor]:
    """:func:`choose` for one menu in ``sc``: (choices, [T1, R1, T2, R2] batched, Q)."""
    arrs = [_f64(np.asarray(x, float))[None] for x in (T1, R1, T2, R2)]
    Q = _f64(sc.transition)[None]
    c = _f64(sc.energy_price / np.asarray(sc.theta, float))[None]
    tol = tie_tolerance_abs(sc, tie_tolerance)
    ch = choose(*arrs, Q, c, sc, tol=tol, acceptance=acceptance, participation=participation)
    return ch, arrs, Q


def choose_np(
    T1: np.ndarray,
    R1: np.ndarray,
    T2: np.ndarray,
    R2: np.ndarray,
    sc: Scenario,
    *,
    tie_tolerance: float = 1e-6,
    acceptance: Acceptance = "own_period",
    participation: Participation | None = None,
) -> ChoiceArrays:
    """:func:`choose` for one menu in scenario ``sc`` (Q = sc.transition, c = xi / theta)."""
    ch, _, _ = _one_menu(T1, R1, T2, R2, sc, tie_tolerance, acceptance, participation)
    return ChoiceArrays(
        period1=ch.period1[0].numpy().astype(int),
        period2=ch.period2[0].numpy().astype(int),
        u1=ch.u1[0].numpy(),
        u2=ch.u2[0].numpy(),
        cont=ch.cont[0].numpy(),
        W=ch.W[0].numpy(),
        tol=ch.tol,
    )


def expected_profit_np(
    T1: np.ndarray, R1: np.ndarray, T2: np.ndarray, R2: np.ndarray, sc: Scenario, **rules: Any
) -> float:
    """Expected CS profit per ES of one menu in ``sc`` when every ES picks by the rules
    (``rules``: the keyword options of :func:`choose_np`)."""
    ch, arrs, Q = _one_menu(T1, R1, T2, R2, sc, **rules)
    prior = _f64(sc.prior)[None]
    return float(expected_profit_under_choice(ch, *arrs, prior, Q, sc)[0])
