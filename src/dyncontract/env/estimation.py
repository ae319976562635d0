"""Estimating the ESs' private types from what a CS observes: their picks from posted menus.

A CS that does not know the types' willingness θ posts menus and records, for each sampled
ES, which item it took in each period or that it declined (the env's ``picks``, menu mode
with ``menu_reward: sampled``). The types themselves stay private; the CS knows its market
state (p, Q, ξ), the energy accounting (κ, τ) and its own valuation. Under the model's
rational choice with a logit noise of temperature ``tau``
(:func:`~dyncontract.model.choice.soft_choose`), the probability of each observed pair of
choices is :func:`~dyncontract.model.choice.soft_pick_probabilities`; :func:`fit_theta`
maximises the log-likelihood of all picks over θ (ordered: θ_1 < … < θ_K), lowering the
temperature in stages (each stage starts from the previous estimate). θ and the cost scale
ξ κ / τ² enter costs only as ξ / θ_k: an unknown cost scale would be absorbed into θ ("θ up
to the cost scale"); here ξ, κ and τ are known, so θ itself is identified.

Payments must not depend on θ for this to be model-free: the env's ``free`` payments
(R = R_max (a + 1) / 2) do not; ``rent`` payments price items at the true types' costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from dyncontract.env.batched import BatchedContractEnv
from dyncontract.model.choice import soft_choose, soft_pick_probabilities

#: temperatures of the fit's stages (utility units; R_max is about 28 in the default scenario)
DEFAULT_TAUS = (3.0, 1.0, 0.3, 0.1, 0.03, 0.01)


def ordered_theta(z: torch.Tensor) -> torch.Tensor:
    """θ from unconstrained ``z`` (K,): θ_1 = exp(z_1), θ_k = θ_{k-1} + exp(z_k)."""
    return torch.cumsum(torch.exp(z), dim=0)


def theta_to_z(theta: np.ndarray) -> torch.Tensor:
    """The inverse of :func:`ordered_theta` (``theta`` strictly increasing and positive)."""
    t = np.asarray(theta, float)
    return torch.as_tensor(np.log(np.diff(t, prepend=0.0)), dtype=torch.float64)


def pick_log_likelihood(
    benv: BatchedContractEnv,
    obs: torch.Tensor,
    action: torch.Tensor,
    picks: torch.Tensor,
    theta: torch.Tensor,
    tau: float,
) -> torch.Tensor:
    """Σ over menus and (r1, r2) of ``picks`` × log Pr(r1, r2 | menu, state, θ, tau): the
    log-likelihood of the observed choices (a scalar, differentiable in ``theta``)."""
    if benv.mode != "menu" or benv.cfg.menu_payments != "free":
        raise ValueError("pick_log_likelihood: needs menu mode with free payments")
    ct = benv.contracts(obs, action)  # free payments: T and R do not depend on the types
    p, Q = ct["prior"], ct["Q"]
    xi = benv.decode(obs)[2]
    c = xi[:, None] / theta[None, :]
    sch = soft_choose(
        ct["T1"], ct["R1"], ct["T2"], ct["R2"], Q, c, benv.base,
        tau=tau, acceptance=benv.cfg.menu_acceptance,
    )  # fmt: skip
    prob = soft_pick_probabilities(sch, p, Q)
    return (picks * torch.log(prob.clamp(min=1e-300))).sum()


@dataclass
class ThetaFit:
    """What :func:`fit_theta` returns: the estimate, and the log-likelihood per ES choice
    pair at each stage's end. ``start``: where the fit began (:func:`refit_theta` sets it to
    the candidate it kept, ``"fresh"`` or ``"previous"``)."""

    theta: np.ndarray
    history: list[dict[str, float]] = field(default_factory=list)
    start: str = "fresh"


def _subset(n: int, max_menus: int, seed: int) -> torch.Tensor:
    """The indices of the menus a fit uses: all ``n``, or a seeded random ``max_menus``."""
    if n <= max_menus:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:max_menus]


def fit_theta(
    benv: BatchedContractEnv,
    obs: torch.Tensor,
    action: torch.Tensor,
    picks: torch.Tensor,
    *,
    taus: tuple[float, ...] = DEFAULT_TAUS,
    steps: int = 20,
    max_menus: int = 16_384,
    chunk: int = 4096,
    theta0: np.ndarray | None = None,
    seed: int = 0,
) -> ThetaFit:
    """Maximum-likelihood θ from posted menus (``obs``, ``action``, (n, ·)) and the picks of
    their sampled ESs (n, K + 1, K + 1).

    L-BFGS (strong Wolfe line search, at most ``steps`` iterations per temperature of
    ``taus``) on the ordered parametrisation, with the full log-likelihood of at most
    ``max_menus`` menus (all of them, or a random subset of that size: their statistical
    precision is already below what the margins of ``estimate_solve`` resolve), computed in
    chunks of ``chunk`` menus. Minibatch gradient steps were tried first: at low temperature
    each menu's likelihood is nearly a step function of θ, and their noise left errors of
    several percent. ``theta0``: the start (default 1, 2, …, K: ordered and otherwise
    uninformed; a refit as data accumulate starts from the last estimate). ``history``: the
    log-likelihood per ES choice pair at each stage's end."""
    K = benv.K
    n = int(obs.shape[0])
    if n == 0:
        raise ValueError("fit_theta: no observations")
    if n > max_menus:
        keep = _subset(n, max_menus, seed)
        obs, action, picks = obs[keep], action[keep], picks[keep]
        n = max_menus
    start = np.arange(1.0, K + 1.0) if theta0 is None else np.asarray(theta0, float)
    z = torch.nn.Parameter(theta_to_z(start))
    es_total = float(picks.sum())
    parts = [
        (obs[s : s + chunk].double(), action[s : s + chunk].double(), picks[s : s + chunk].double())
        for s in range(0, n, chunk)
    ]

    def nll(tau: float, grad: bool) -> float:
        total = 0.0
        for o, a, pk in parts:
            loss = -pick_log_likelihood(benv, o, a, pk, ordered_theta(z), tau) / es_total
            if grad:
                loss.backward()
            total += float(loss.detach())
        return total

    history: list[dict[str, float]] = []
    for tau in taus:
        opt = torch.optim.LBFGS(
            [z], lr=1.0, max_iter=steps, history_size=10, line_search_fn="strong_wolfe",
            tolerance_grad=1e-10, tolerance_change=1e-12,
        )  # fmt: skip

        def closure(tau: float = tau, opt: torch.optim.LBFGS = opt) -> torch.Tensor:
            opt.zero_grad()
            return torch.tensor(nll(tau, grad=True))

        opt.step(closure)
        with torch.no_grad():
            history.append({"tau": tau, "log_lik_per_es": -nll(tau, grad=False)})
    theta = ordered_theta(z).detach().numpy()
    if not np.all(np.isfinite(theta)):
        raise FloatingPointError("fit_theta: the estimate is not finite")
    return ThetaFit(theta=theta, history=history)


def log_likelihood_per_es(
    benv: BatchedContractEnv,
    obs: torch.Tensor,
    action: torch.Tensor,
    picks: torch.Tensor,
    theta: np.ndarray,
    tau: float,
    chunk: int = 4096,
) -> float:
    """The mean log-likelihood per ES choice pair of ``picks`` under types ``theta`` at
    temperature ``tau`` (no gradient; computed in chunks of ``chunk`` menus)."""
    th = torch.as_tensor(np.asarray(theta, float), dtype=torch.float64)
    total = 0.0
    with torch.no_grad():
        for s in range(0, int(obs.shape[0]), chunk):
            o, a = obs[s : s + chunk].double(), action[s : s + chunk].double()
            pk = picks[s : s + chunk].double()
            total += float(pick_log_likelihood(benv, o, a, pk, th, tau))
    return total / float(picks.sum())


def refit_theta(
    benv: BatchedContractEnv,
    obs: torch.Tensor,
    action: torch.Tensor,
    picks: torch.Tensor,
    previous: np.ndarray | None,
    *,
    refine_taus: tuple[float, ...] = (0.03, 0.01),
    fresh_menus: int = 1024,
    steps: int = 20,
    max_menus: int = 16_384,
    seed: int = 0,
) -> ThetaFit:
    """Refit θ as data accumulate, without being trapped by an earlier estimate.

    Two candidates: a **fresh** fit (from the uninformed start, every temperature of
    :data:`DEFAULT_TAUS`, on a random subset of at most ``fresh_menus`` menus: cheap, and
    enough to land in the right basin) and the **previous** estimate. The one with the
    higher log-likelihood per ES at ``refine_taus[0]`` on the fit's menus is refined at
    ``refine_taus`` with up to ``max_menus`` menus. Why both: with the ordered
    parametrisation, types that merged in an early fit on few menus (their gap's log at
    −∞) get no gradient to separate again, so a refit from the previous estimate alone can
    stay merged for good; a fresh fit alone would throw away the precision of the large
    fits."""
    fresh = fit_theta(
        benv, obs, action, picks, taus=DEFAULT_TAUS, steps=steps, max_menus=fresh_menus,
        seed=seed,
    )  # fmt: skip
    start, theta0 = "fresh", fresh.theta
    if previous is not None:
        keep = _subset(int(obs.shape[0]), max_menus, seed)  # the menus fit_theta refines on
        o, a, pk = obs[keep], action[keep], picks[keep]
        tau = refine_taus[0]
        if log_likelihood_per_es(benv, o, a, pk, previous, tau) > log_likelihood_per_es(
            benv, o, a, pk, fresh.theta, tau
        ):
            start, theta0 = "previous", np.asarray(previous, float)
    fit = fit_theta(
        benv, obs, action, picks, taus=refine_taus, steps=steps, max_menus=max_menus,
        theta0=theta0, seed=seed,
    )  # fmt: skip
    fit.start = start
    return fit


def relative_error(theta_hat: np.ndarray, theta: np.ndarray) -> dict[str, float]:
    """Max and mean of |θ̂_k − θ_k| / θ_k."""
    err = np.abs(np.asarray(theta_hat, float) - np.asarray(theta, float)) / np.asarray(theta)
    return {"max": float(err.max()), "mean": float(err.mean())}


def menu_action_free(
    benv: BatchedContractEnv,
    T1: np.ndarray,
    R1: np.ndarray,
    T2: np.ndarray,
    R2: np.ndarray,
) -> np.ndarray:
    """The action (2K + 2K²,) whose menu under ``free`` payments is (T1, R1, T2, R2) (the
    payments clipped to [0, R_max], the workloads to [0, T_max])."""
    if benv.mode != "menu" or benv.cfg.menu_payments != "free":
        raise ValueError("menu_action_free: needs menu mode with free payments")
    t_max, r_max = benv.base.t_max, benv.r_max
    a_T = np.concatenate([np.ravel(T1), np.ravel(T2)]) / t_max * 2.0 - 1.0
    a_R = np.concatenate([np.ravel(R1), np.ravel(R2)]) / r_max * 2.0 - 1.0
    return np.clip(np.concatenate([a_T, a_R]), -1.0, 1.0)
