"""Non-RL baselines for the structured contract env: direct, supervised, per_state.

The structured env is a one-step problem whose reward is a known, differentiable torch
function of the action (:mod:`dyncontract.env.gradient`). These baselines use that:

* :func:`train_direct` — an MLP policy obs -> action trained by gradient ascent on the
  penalised expected profit (no critic, one action per state, fresh states every batch).
* :func:`train_supervised` — the same MLP regressed on exact optima
  (:func:`~dyncontract.solvers.solve_dynamic`) of sampled states; label generation counts.
* :func:`per_state` — gradient ascent on each given state's own action (no amortisation).

Usage accounting (the same for all three):

* ``samples`` — env evaluations of (state, action) pairs for direct and per_state (one per
  state per step; per_state: n states x steps), states labelled by the exact solver for
  supervised;
* ``updates`` — optimizer steps;
* ``wall_s`` — wall-clock seconds of everything the method does (sampling, label solves,
  forward/backward, optimizer) *including* the ``on_eval`` callback: every method of the
  benchmark counts its evaluations in its wall clock (the RL trainer and SB3 too).

Training stops when ``samples >= steps`` or ``wall_s >= 60 * max_minutes``. ``on_eval(samples,
updates, wall_s, policy)`` is called every ``eval_every`` samples (if given) and once at the
end. A policy is a callable ``obs (n, obs_dim) float tensor -> actions (n, act_dim)`` in
[-1, 1] (no gradient); the returned policy carries its final :class:`Usage` as ``.budget``.

The infeasible boundary is handled by the surrogate of :func:`~dyncontract.env.gradient.
surrogate_objective`: profit - penalty * relu(gap + margin), gap the signed distance to the
payment map's failure set, so the learned actions settle ``margin`` inside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Literal

import numpy as np
import torch
from torch import nn

from dyncontract.env.batched import BatchedContractEnv
from dyncontract.env.gradient import surrogate_objective
from dyncontract.env.scoring import score_profits
from dyncontract.solvers.exact import OPTIMAL, solve_dynamic

OnEval = Callable[[int, int, float, Callable[[torch.Tensor], torch.Tensor]], None]

#: Initial contract of every learner: in each period the same strictly increasing menu,
#: T = T_max * linspace(INIT_LO, INIT_HI, K). Identical period-2 rows and a strictly
#: increasing period-1 menu make every IC1 cycle strictly negative: implementable.
INIT_LO, INIT_HI = 0.2, 0.5


@dataclass
class Usage:
    """What a method used so far: samples, optimizer updates, wall seconds."""

    samples: int = 0
    updates: int = 0
    wall_s: float = 0.0


class _Clock:
    """Wall clock of a run; evaluations (``pause``) count, as for every other method."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def pause(self, fn: Callable[[], None]) -> None:
        fn()


def init_action(K: int) -> np.ndarray:
    """The learners' initial action (act_dim,): one strictly increasing menu in both periods."""
    a = 2.0 * np.linspace(INIT_LO, INIT_HI, K) - 1.0
    return np.concatenate([a, np.tile(a, K)])


class MLPPolicy(nn.Module):
    """2 hidden layers (SiLU), tanh output; starts at :func:`init_action` for every state."""

    def __init__(self, obs_dim: int, act_dim: int, K: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(obs_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, act_dim),
        )
        last = self.net[-1]
        assert isinstance(last, nn.Linear)
        with torch.no_grad():
            last.weight.mul_(0.01)
            last.bias.copy_(torch.atanh(torch.as_tensor(init_action(K), dtype=torch.float32)))
        self.budget = Usage()

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs.float()))

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.forward(obs)


class Policy:
    """A trained policy: ``policy(obs) -> actions`` in [-1, 1], no gradient, eval mode.

    ``module`` is the underlying :class:`MLPPolicy`; ``budget`` what training used.
    """

    def __init__(self, module: MLPPolicy) -> None:
        self.module = module

    @property
    def budget(self) -> Usage:
        return self.module.budget

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        was = self.module.training
        self.module.eval()
        try:
            return self.module.act(obs)
        finally:
            self.module.train(was)


def _setup(
    env: BatchedContractEnv, seed: int, hidden: int
) -> tuple[MLPPolicy, np.random.Generator]:
    if env.mode != "structured":
        raise ValueError("the amortised baselines need the structured action mode")
    torch.manual_seed(seed)
    model = MLPPolicy(env.obs_dim, env.act_dim, env.K, hidden).to(env.device)
    return model, np.random.default_rng(seed)


def _progress(b: Usage, steps: int, max_minutes: float | None, clock: _Clock) -> float:
    """Fraction of the budget used: samples or wall clock, whichever is further along."""
    frac = b.samples / steps
    if max_minutes is not None:
        frac = max(frac, clock.elapsed() / (60.0 * max_minutes))
    return min(1.0, frac)


def _done(b: Usage, steps: int, max_minutes: float | None) -> bool:
    return b.samples >= steps or (max_minutes is not None and b.wall_s >= 60.0 * max_minutes)


def _tick(
    b: Usage, clock: _Clock, on_eval: OnEval | None, every: int | None, next_eval: int, policy
) -> int:
    """Update the wall clock; evaluate when ``every`` more samples were drawn. -> next_eval."""
    b.wall_s = clock.elapsed()
    if on_eval is not None and every and b.samples >= next_eval:
        next_eval += every
        clock.pause(lambda: on_eval(b.samples, b.updates, b.wall_s, policy))
    return next_eval


def _last(b: Usage, clock: _Clock, on_eval: OnEval | None, policy: Policy) -> Policy:
    """The final evaluation; returns ``policy``."""
    b.wall_s = clock.elapsed()
    if on_eval is not None:
        on_eval(b.samples, b.updates, b.wall_s, policy)
    return policy


def train_direct(
    env: BatchedContractEnv,
    seed: int,
    steps: int,
    max_minutes: float | None = None,
    *,
    batch: int = 256,
    hidden: int = 128,
    lr: float = 3e-3,
    lr_final: float = 3e-4,
    penalty: float = 10.0,
    margin: float = 1e-2,
    eval_every: int | None = None,
    on_eval: OnEval | None = None,
) -> Policy:
    """MLP policy by gradient ascent on the penalised expected profit (no critic).

    Each update draws ``batch`` fresh states (env.sample_states), takes the policy's one
    action per state and ascends mean(surrogate) / reward_scale with Adam; the learning
    rate decays geometrically from ``lr`` to ``lr_final`` over the budget (samples or wall
    clock, whichever runs out first).
    """
    model, rng = _setup(env, seed, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    clock, b = _Clock(), model.budget
    policy = Policy(model)
    next_eval = eval_every or 0
    while not _done(b, steps, max_minutes):
        obs = env.sample_states(batch, rng)
        obj, _, _ = surrogate_objective(env, obs, model(obs), penalty=penalty, margin=margin)
        loss = -obj.mean() / env.cfg.reward_scale
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        b.samples += batch
        for group in opt.param_groups:
            group["lr"] = lr * (lr_final / lr) ** _progress(b, steps, max_minutes, clock)
        b.updates += 1
        next_eval = _tick(b, clock, on_eval, eval_every, next_eval, policy)
    return _last(b, clock, on_eval, policy)


def optimum_action(T1: np.ndarray, T2: np.ndarray, env: BatchedContractEnv) -> np.ndarray:
    """A contract's workloads as the structured action that decodes to them (act_dim,).

    T2 rows are made monotone (running maximum; the exact optimum's rows are, up to solver
    noise); T1 is sorted when the env sorts it (``monotone="both"``: decoding would sort it
    anyway, and a sorted target is easier to regress).
    """
    t_max = env.base.t_max
    T1 = np.asarray(T1, float)
    T2 = np.maximum.accumulate(np.asarray(T2, float), axis=1)
    if env.cfg.monotone == "both":
        T1 = np.sort(T1)
    a = np.concatenate([T1, T2.ravel()]) / t_max * 2.0 - 1.0
    return np.clip(a, -1.0, 1.0)


def exact_labels(
    env: BatchedContractEnv, obs: torch.Tensor, stop: Callable[[], bool] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact optimal actions (m, act_dim) of the first m states of ``obs`` and a mask of
    optimal solves (m,). m = n unless ``stop()`` turned True first (checked before each solve).
    """
    scs = env.dist.scenarios(obs.detach().cpu().numpy())
    acts = np.empty((len(scs), env.act_dim))
    good = np.zeros(len(scs), dtype=bool)
    m = len(scs)
    for i, sc in enumerate(scs):
        if stop is not None and stop():
            m = i
            break
        r = solve_dynamic(sc)
        if r.status == OPTIMAL and r.contract is not None:
            acts[i] = optimum_action(r.contract.T1, r.contract.T2, env)
            good[i] = True
    return acts[:m], good[:m]


def train_supervised(
    env: BatchedContractEnv,
    seed: int,
    steps: int,
    max_minutes: float | None = None,
    *,
    label_batch: int = 32,
    updates_per_label_batch: int = 200,
    batch: int = 128,
    hidden: int = 128,
    lr: float = 1e-3,
    target_clip: float = 0.999,
    refine_steps: int = 0,
    refine_margin: float = 1e-2,
    eval_every: int | None = None,
    on_eval: OnEval | None = None,
) -> Policy:
    """The MLP regressed (MSE, pre-tanh) on exact optimal actions of sampled states.

    Alternates: solve ``label_batch`` fresh states exactly (``samples`` += states solved; the
    solve time counts), then ``updates_per_label_batch`` Adam steps on minibatches of all
    labels so far. The clock is checked before every solve and every update. Targets are
    clipped to ±``target_clip`` and regressed in atanh space (workloads at T_max would
    otherwise be unreachable). States whose solve is not optimal
    are dropped (they still count as samples).

    ``refine_steps > 0`` moves each label, before it is stored, into the env's implementable
    set: :func:`per_state` from the exact optimum's action (``margin=refine_margin``, last
    implementable iterate). The optimum often sits on the payment map's boundary, or (T1
    sorted by the env) just outside it; regressing onto such labels puts a few predicted
    contracts on the infeasible side. The refinement's time counts in ``wall_s``; ``samples``
    stays the number of states labelled. Default 0: plain regression on the exact optima.
    """
    model, rng = _setup(env, seed, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    clock, b = _Clock(), model.budget
    policy = Policy(model)
    X: list[torch.Tensor] = []
    Y: list[torch.Tensor] = []
    next_eval = eval_every or 0

    def out_of_time() -> bool:
        return max_minutes is not None and clock.elapsed() >= 60.0 * max_minutes

    while not _done(b, steps, max_minutes) and not out_of_time():
        n_new = min(label_batch, steps - b.samples)
        obs = env.sample_states(n_new, rng)
        acts, good = exact_labels(env, obs, stop=out_of_time)
        obs = obs[: len(good)]
        b.samples += len(good)
        if good.any():
            obs_good = obs[torch.as_tensor(good)]
            y = acts[good]
            if refine_steps > 0:
                y = per_state(
                    env,
                    obs_good,
                    refine_steps,
                    lr=5e-3,
                    margin=refine_margin,
                    init=torch.as_tensor(y),
                    select="last",
                ).numpy()
            X.append(obs_good.float())
            y = np.arctanh(np.clip(y, -target_clip, target_clip))
            Y.append(torch.as_tensor(y, dtype=torch.float32, device=env.device))
        if X:
            Xa, Ya = torch.cat(X), torch.cat(Y)
            for _ in range(updates_per_label_batch):
                if out_of_time():
                    break
                idx = torch.as_tensor(rng.integers(0, Xa.shape[0], size=min(batch, Xa.shape[0])))
                loss = ((model.net(Xa[idx]) - Ya[idx]) ** 2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                b.updates += 1
        next_eval = _tick(b, clock, on_eval, eval_every, next_eval, policy)
    return _last(b, clock, on_eval, policy)


def per_state(
    env: BatchedContractEnv,
    obs: torch.Tensor,
    steps_per_state: int,
    *,
    lr: float = 0.02,
    lr_final: float = 1e-4,
    penalty: float = 10.0,
    margin: float = 1e-4,
    init: torch.Tensor | None = None,
    eval_every: int | None = None,
    on_eval: OnEval | None = None,
    budget: Usage | None = None,
    select: Literal["best_ok", "last"] = "best_ok",
) -> torch.Tensor:
    """Gradient ascent on each state's own action, batched; returns actions (n, act_dim).

    a = tanh(z), z optimised by Adam on the penalised profit of every state at once; the
    learning rate decays geometrically from ``lr`` to ``lr_final``. The returned action of a
    state is its most profitable *implementable* iterate (the last iterate where none was);
    with ``select="last"`` the last iterate where it is implementable, else that best one.
    ``samples`` = n * steps, ``updates`` = steps (one batched Adam step each); pass ``budget``
    to receive them. The ``policy`` given to ``on_eval`` returns the current best actions
    (it ignores its argument: the states are fixed).
    """
    if env.mode != "structured":
        raise ValueError("per_state needs the structured action mode")
    n = obs.shape[0]
    a0 = (
        init.to(torch.float64)
        if init is not None
        else torch.as_tensor(init_action(env.K), dtype=torch.float64).expand(n, -1)
    )
    z = torch.atanh(a0.clamp(-0.999, 0.999)).clone().to(env.device).requires_grad_()
    opt = torch.optim.Adam([z], lr=lr)
    gamma = (lr_final / lr) ** (1.0 / max(1, steps_per_state))
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma)
    best_a = torch.tanh(z).detach().clone()
    best_p = torch.full((n,), -torch.inf, dtype=torch.float64, device=env.device)
    clock = _Clock()
    b = budget if budget is not None else Usage()
    next_eval = eval_every or 0

    def current(_obs: torch.Tensor | None = None) -> torch.Tensor:
        return best_a.clone()

    for _ in range(steps_per_state):
        a = torch.tanh(z)
        obj, profit, ok = surrogate_objective(env, obs, a, penalty=penalty, margin=margin)
        with torch.no_grad():
            better = ok & (profit > best_p)
            best_p = torch.where(better, profit, best_p)
            best_a = torch.where(better[:, None], a, best_a)
        opt.zero_grad(set_to_none=True)
        (-obj.sum() / env.cfg.reward_scale).backward()
        opt.step()
        sched.step()
        b.samples += n
        b.updates += 1
        b.wall_s = clock.elapsed()
        if on_eval is not None and eval_every and b.samples >= next_eval:
            next_eval += eval_every
            clock.pause(lambda: on_eval(b.samples, b.updates, b.wall_s, current))
    # the final iterate too
    with torch.no_grad():
        a = torch.tanh(z)
        _, profit, ok = surrogate_objective(env, obs, a, penalty=penalty, margin=margin)
        better = ok & (profit > best_p) if select == "best_ok" else ok
        best_a = torch.where(better[:, None], a, best_a)
    b.samples += n
    b.wall_s = clock.elapsed()
    if on_eval is not None:
        on_eval(b.samples, b.updates, b.wall_s, current)
    return best_a.detach()


def score(
    env: BatchedContractEnv, obs: torch.Tensor, actions: torch.Tensor, optimal: np.ndarray
) -> dict[str, float]:
    """The scoring protocol's single-action metrics (:func:`~dyncontract.env.scoring.
    score_profits`: an infeasible contract counts 0) under this module's short names, plus
    the mean ratio over the feasible states."""
    out = env.step(obs, actions)
    feas = out["feasible"].cpu().numpy()
    profit = out["profit"].cpu().numpy()
    held = SimpleNamespace(optimal_profit=np.asarray(optimal, float), static_best_profit=None)
    m = score_profits(profit, feas, held, "single")  # type: ignore[arg-type]
    return {
        "ratio": m["ratio_single"],
        "ratio_feasible": float((profit / held.optimal_profit)[feas].mean())
        if feas.any()
        else float("nan"),
        "feasible": m["feasible_single"],
        "ratio_p05": m["ratio_single_p05"],
    }
