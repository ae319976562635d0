"""Menu-mode baselines: gradient ascent through a softened choice, and CMA-ES.

* :func:`soft_menu_profit` — the expected profit when every ES chooses by a *softmax* over its
  options (items and, where allowed, declining at utility 0) with temperature ``tau``; as
  ``tau -> 0`` it tends to the hard rule of :mod:`dyncontract.model.choice` (away from ties).
  Differentiable in the menu, hence in the action.
* :func:`direct_smooth` — ``direct_smooth``: an amortised MLP (state -> menu action) trained by
  gradient ascent on the soft profit with the temperature annealed geometrically towards the
  hard choice; iterates are *scored with the hard choice* on a validation batch and the best
  is kept. ``amortised=False`` optimises one action per given state instead.
* :func:`cma_search` — ``cma``: per-state black-box search with CMA-ES (the ``cma``
  package) on the hard-choice profit; the reference for what a non-amortised search reaches.

All work on a :class:`~dyncontract.env.batched.BatchedContractEnv` in ``menu`` mode.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from dyncontract.env.batched import BatchedContractEnv
from dyncontract.model.choice import soft_choose


def soft_menu_profit(
    benv: BatchedContractEnv, obs: torch.Tensor, action: torch.Tensor, tau: float
) -> torch.Tensor:
    """(n,) expected CS profit per ES under softmax choices at temperature ``tau``.

    The choices are :func:`~dyncontract.model.choice.soft_choose`'s: period 2, option logits
    ``u2 / tau`` over the items of row l (plus declining at 0 under ``per_period``); period 1,
    ``W / tau`` with the soft continuation utilities (plus declining at 0; under
    ``own_period`` acceptance an item is acceptable with probability ``sigmoid(u1 / tau)``).
    Ties favour the truthful item by a factor e (a logit bonus of 1), as the hard rule sends
    ties to it.
    """
    if benv.mode != "menu":
        raise ValueError("soft_menu_profit: needs env.action_mode=menu")
    sc = benv.base
    ct = benv.contracts(obs, action)
    T1, R1, T2, R2, p, Q, c = (ct[k] for k in ("T1", "R1", "T2", "R2", "prior", "Q", "c"))
    K = T1.shape[1]
    sch = soft_choose(
        T1, R1, T2, R2, Q, c, sc, tau=tau, acceptance=benv.cfg.menu_acceptance
    )  # fmt: skip
    pi1 = sc.alpha * torch.log1p(sc.beta * T1) - R1  # (n, l)
    pi2 = sc.alpha * torch.log1p(sc.beta * T2) - R2  # (n, l, m)
    prof2 = (sch.P2[..., :K] * pi2[:, :, None, :]).sum(-1)  # (n, l, i)
    later = sc.discount * torch.einsum("nki,nli->nkl", Q, prof2)  # (n, k, l)
    per_type = (sch.P1[..., :K] * (pi1[:, None, :] + later)).sum(-1)  # (n, k)
    return (p * per_type).sum(-1)


@torch.no_grad()
def hard_profit(benv: BatchedContractEnv, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """(n,) expected profit under the hard choice (the env's ``profit``, without the
    constraint check that ``step`` also runs)."""
    return benv.menu_outcome(benv.contracts(obs, action))["profit"]


class MenuPolicy(nn.Module):
    """State -> menu action in [-1, 1]^d (an MLP with a tanh head)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        d = obs_dim
        for _ in range(layers):
            mods += [nn.Linear(d, hidden), nn.SiLU()]
            d = hidden
        self.body = nn.Sequential(*mods)
        self.head = nn.Linear(d, act_dim)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.head(self.body(obs)))


def _init_head(head: nn.Linear, K: int, payment_bias: float) -> None:
    with torch.no_grad():
        head.weight.mul_(0.1)
        head.bias.zero_()
        head.bias[K + K * K :] = payment_bias  # start with low rents / payments


@dataclass
class SmoothResult:
    """What :func:`direct_smooth` returns; ``act(obs)`` gives the best policy's actions."""

    policy: nn.Module | None
    actions: torch.Tensor | None  # per-state mode: the best actions of the given states
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    updates: int = 0
    samples: int = 0

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        if self.policy is None:
            assert self.actions is not None
            return self.actions
        return self.policy(obs.double())


def _frozen(policy: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """obs -> actions of the policy as it is now (float64 in, float64 out, no gradients)."""

    @torch.no_grad()
    def act(obs: torch.Tensor) -> torch.Tensor:
        return policy(obs.double())

    return act


def direct_smooth(
    benv: BatchedContractEnv,
    *,
    seconds: float = 60.0,
    batch: int = 256,
    lr: float = 1e-3,
    tau0: float = 1.0,
    tau1: float = 1e-3,
    hidden: int = 256,
    layers: int = 2,
    eval_every: int = 50,
    val_obs: torch.Tensor | None = None,
    amortised: bool = True,
    states: torch.Tensor | None = None,
    payment_bias: float = -0.8,
    seed: int = 0,
    max_updates: int | None = None,
    on_eval: Callable[[int, int, float, Callable[[torch.Tensor], torch.Tensor]], None]
    | None = None,
) -> SmoothResult:
    """``direct_smooth``: maximise the soft profit by gradient ascent; keep the best iterate
    by the *hard* profit on ``val_obs`` (default: 256 fresh states of its own).

    ``amortised=True``: an MLP policy trained on fresh states each step. ``False``: one action
    per row of ``states`` (restarts are rows too), optimised directly. The temperature goes
    from ``tau0`` to ``tau1`` geometrically over the budget: ``max_updates`` gradient steps
    and/or ``seconds`` of wall time, whichever runs out first (``max_updates`` alone is
    reproducible; ``seconds=math.inf`` disables the clock). ``on_eval(samples, updates,
    wall_s, act)`` is called at every evaluation with the current policy ``act``: obs ->
    actions (amortised mode only; e.g. to score learning curves elsewhere).
    """
    if benv.mode != "menu":
        raise ValueError("direct_smooth: needs env.action_mode=menu")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    K = benv.K
    t0 = time.perf_counter()
    if amortised:
        policy: nn.Module | None = MenuPolicy(benv.obs_dim, benv.act_dim, hidden, layers).double()
        _init_head(policy.head, K, payment_bias)  # type: ignore[union-attr]
        params = list(policy.parameters())  # type: ignore[union-attr]
        v_obs = val_obs if val_obs is not None else benv.sample_states(256, rng)
        v_obs = v_obs.double()
    else:
        if states is None:
            raise ValueError("direct_smooth: amortised=False needs states")
        policy = None
        z0 = torch.zeros(states.shape[0], benv.act_dim, dtype=torch.float64)
        z0[:, K + K * K :] = payment_bias
        z0 += 0.1 * torch.randn_like(z0)
        z = nn.Parameter(z0)
        params = [z]
        v_obs = states.double()
    opt = torch.optim.Adam(params, lr=lr)

    def actions(obs: torch.Tensor) -> torch.Tensor:
        return policy(obs) if policy is not None else torch.tanh(z)

    best_val, best_state = -math.inf, None
    best_act: torch.Tensor | None = None
    best_prof: torch.Tensor | None = None
    history: list[dict[str, float]] = []
    step = samples = 0
    while True:
        frac = min(1.0, (time.perf_counter() - t0) / seconds) if math.isfinite(seconds) else 0.0
        if max_updates is not None:
            frac = max(frac, min(1.0, step / max(1, max_updates)))
        elif not math.isfinite(seconds):
            raise ValueError("direct_smooth: give max_updates or a finite seconds budget")
        tau = tau0 * (tau1 / tau0) ** frac
        if step % eval_every == 0 or frac >= 1.0:
            with torch.no_grad():
                a = actions(v_obs)
                hard = hard_profit(benv, v_obs, a)
            samples += v_obs.shape[0]  # the selection's env evaluations count as samples
            if policy is not None:  # amortised: the iterate with the best mean hard profit
                val = float(hard.mean())
                if val > best_val:
                    best_val, best_state = val, copy.deepcopy(policy.state_dict())
            else:  # per state: each state's best action so far
                if best_prof is None or best_act is None:
                    best_prof, best_act = hard.clone(), a.clone()
                better = hard > best_prof
                best_prof = torch.where(better, hard, best_prof)
                best_act = torch.where(better[:, None], a, best_act)
                val = float(best_prof.mean())
            elapsed = time.perf_counter() - t0
            history.append({"step": step, "tau": tau, "hard_profit": val, "seconds": elapsed})
            if on_eval is not None and policy is not None:
                with torch.no_grad():
                    on_eval(samples, step, elapsed, _frozen(policy))
        if frac >= 1.0:
            break
        obs = v_obs if policy is None else benv.sample_states(batch, rng).double()
        loss = -soft_menu_profit(benv, obs, actions(obs), tau).mean() / benv.cfg.reward_scale
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        samples += obs.shape[0]
    if policy is not None and best_state is not None:
        policy.load_state_dict(best_state)
    return SmoothResult(
        policy=policy,
        actions=best_act,
        history=history,
        seconds=time.perf_counter() - t0,
        updates=step,
        samples=samples,
    )


def cma_search(
    benv: BatchedContractEnv,
    obs: torch.Tensor,
    *,
    evals: int = 20_000,
    sigma0: float = 0.3,
    popsize: int | None = None,
    x0: np.ndarray | None = None,
    payment_start: float = -0.8,
    seed: int = 0,
) -> dict[str, Any]:
    """``cma``: CMA-ES per state on the hard-choice profit (bounds [-1, 1]), ``evals``
    evaluations each. Returns ``actions`` (n, d), ``profit`` (n,), ``seconds`` (n,)."""
    import cma  # optional dependency (pip install cma)

    if benv.mode != "menu":
        raise ValueError("cma_search: needs env.action_mode=menu")
    K, d = benv.K, benv.act_dim
    if x0 is None:
        x0 = np.zeros(d)
        x0[K + K * K :] = payment_start
    acts, profits, secs = [], [], []
    for j in range(obs.shape[0]):
        t0 = time.perf_counter()
        opts: dict[str, Any] = {
            "bounds": [-1.0, 1.0],
            "maxfevals": evals,
            "seed": seed + j + 1,
            "verbose": -9,
        }
        if popsize:
            opts["popsize"] = popsize
        es = cma.CMAEvolutionStrategy(x0, sigma0, opts)
        o = obs[j : j + 1]
        best_x, best_f = None, -math.inf
        while not es.stop():
            X = es.ask()
            A = torch.as_tensor(np.asarray(X))
            f = hard_profit(benv, o.expand(A.shape[0], -1), A).numpy()
            es.tell(X, (-f).tolist())
            i = int(np.argmax(f))
            if f[i] > best_f:
                best_f, best_x = float(f[i]), np.asarray(X[i])
        acts.append(best_x)
        profits.append(best_f)
        secs.append(time.perf_counter() - t0)
    return {
        "actions": torch.as_tensor(np.stack(acts)),
        "profit": np.asarray(profits),
        "seconds": np.asarray(secs),
    }
