"""``estimate_solve``: learn the model, not the menu — estimate θ from the ESs' picks, then
solve the exact program per state with the estimate.

In the model-free setting (methods/model_free.py) the CS:

1. **explores**: posts uniformly random menus (free payments) in fresh training states and
   records, for each sampled ES, the item it took in each period or that it declined (the
   env's ``picks``);
2. **estimates** θ by maximum likelihood under the model's rational choice with a logit noise
   whose temperature is lowered in stages (:func:`~dyncontract.env.estimation.fit_theta`;
   ξ, κ, τ are known, θ is not; at most ``max_menus`` of the menus enter the fit). Each refit
   (:func:`~dyncontract.env.estimation.refit_theta`) refines the likelier of a fresh fit on
   at most ``fresh_menus`` menus and the previous estimate, so types merged by an early fit
   on few menus do not stay merged;
3. **chooses a safety margin**: the exact optimum for θ̂ makes IR/IC bind *at θ̂*, so a type
   whose θ is overestimated by 0.1 % already declines or switches items. The CS solves for
   θ̂ (1 − m) for each margin m of ``margins`` in ``select_states`` fresh training states,
   posts each resulting menu to a sampled population (the same sampled ESs for every margin)
   and keeps the margin with the highest realised profit — model-free, and counted as
   samples (at most ``|margins| x select_states`` per refit, a quarter of a small budget);
4. **solves** the exact dynamic program (:func:`~dyncontract.solvers.exact.solve_dynamic`)
   for each test state with θ̂ (1 − m) and posts the optimum as a free-payment menu.

As data accumulate it refits at each curve budget
(:data:`~dyncontract.experiments.methods.model_free.CURVE_BUDGETS`); samples are cumulative
(exploration plus every margin selection so far). Each row reports the ratio on the test
states, θ̂ and its relative error, the margin, the ratio of the plain plug-in (margin 0,
``test_ratio_plugin``) and which candidate the refit kept (``fit_fresh``: 1 for the fresh
fit, 0 for the previous estimate).

Options: ``margins``, ``select_states`` (32), ``steps`` (L-BFGS iterations per temperature,
20), ``max_menus`` (the fit's largest random subset of the posted menus, 16 384),
``fresh_menus`` (the fresh candidate's, 1 024).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from dyncontract.env import BatchedContractEnv
from dyncontract.env.estimation import menu_action_free, refit_theta, relative_error
from dyncontract.env.heldout import reference_base
from dyncontract.experiments.methods.base import MethodContext
from dyncontract.experiments.methods.model_free import (
    curve_budgets,
    finish_per_state,
    start_action,
    test_row,
)
from dyncontract.model.scenario import Scenario
from dyncontract.rl.budget import Budget
from dyncontract.solvers.exact import solve_dynamic

#: relative safety margins on θ̂ the CS chooses among (by posting)
MARGINS = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
#: the temperatures at which a refit refines its kept candidate
REFIT_TAUS = (0.03, 0.01)
#: exploration menus posted per env call
CHUNK = 8192


def solved_menus(
    env: BatchedContractEnv, scenarios: list[Scenario], theta: np.ndarray, ref: Scenario
) -> tuple[torch.Tensor, int]:
    """The exact optimum of each state for types ``theta`` as free-payment actions, and how
    many solves did not reach an optimal contract (those post the start menu)."""
    acts, failed = [], 0
    th = [float(t) for t in theta]
    for sc in scenarios:
        res = solve_dynamic(sc.replace(theta=th, participation=ref.participation))
        if res.contract is None or not res.optimal:
            failed += 1
            acts.append(start_action(env.act_dim, env.K))
            continue
        c = res.contract
        acts.append(menu_action_free(env, c.T1, c.R1, c.T2, c.R2))
    return torch.as_tensor(np.array(acts)), failed


def run(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    opts = dict(ctx.options)
    margins = tuple(float(m) for m in opts.pop("margins", MARGINS))
    select_states = int(opts.pop("select_states", 32))
    steps = int(opts.pop("steps", 20))
    max_menus = int(opts.pop("max_menus", 16_384))
    fresh_menus = int(opts.pop("fresh_menus", 1024))
    if opts:
        raise ValueError(f"estimate_solve: unknown options {sorted(opts)}")
    env = ctx.setting.env  # training states: exploration and margin selection
    ref = reference_base(env.base, env.cfg)
    true_theta = np.asarray(env.base.theta, float)
    test_obs = ctx.test.evaluator.obs
    test_scen = ctx.test.env.dist.scenarios(test_obs.numpy())
    total = budget.steps if budget.steps is not None else 100_000
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    start = env.samples
    obs_l: list[torch.Tensor] = []
    act_l: list[torch.Tensor] = []
    picks_l: list[torch.Tensor] = []
    theta: np.ndarray | None = None
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    final_actions = None

    def explore(k: int) -> None:
        while k > 0:
            m = min(k, CHUNK)
            o = env.sample_states(m, rng)
            a = torch.as_tensor(rng.uniform(-1.0, 1.0, (m, env.act_dim)).astype(np.float32))
            out = env.step(o, a, generator=gen)
            obs_l.append(o)
            act_l.append(a)
            picks_l.append(out["picks"].to(torch.float32))
            k -= m

    for mark in curve_budgets(total):
        s = int(np.clip(mark // (4 * len(margins)), 1, select_states))
        need = mark - (env.samples - start) - len(margins) * s
        if need <= 0:
            continue
        explore(need)
        obs, act, picks = torch.cat(obs_l), torch.cat(act_l), torch.cat(picks_l)
        obs_l[:], act_l[:], picks_l[:] = [obs], [act], [picks]
        fit = refit_theta(
            env, obs, act, picks, theta, refine_taus=REFIT_TAUS, fresh_menus=fresh_menus,
            steps=steps, max_menus=max_menus, seed=seed + len(rows),
        )  # fmt: skip
        theta = fit.theta
        # choose the margin by posting: the same fresh states and sampled ESs for every margin
        sel_obs = env.sample_states(s, rng)
        sel_scen = env.dist.scenarios(sel_obs.numpy())
        draw_seed = int(rng.integers(2**62))
        earned = []
        for m in margins:
            a_m, _ = solved_menus(env, sel_scen, theta * (1.0 - m), ref)
            g = torch.Generator().manual_seed(draw_seed)
            earned.append(float(env.step(sel_obs, a_m, generator=g)["sampled_profit"].mean()))
        margin = margins[int(np.argmax(earned))]
        used = env.samples - start
        final_actions, failed = solved_menus(env, test_scen, theta * (1.0 - margin), ref)
        plug = final_actions
        if margin != 0.0:
            plug, _ = solved_menus(env, test_scen, theta, ref)
        plugin = ctx.test.evaluator.score_actions(plug)["ratio_single"]
        err = relative_error(theta, true_theta)
        rows.append(
            test_row(
                ctx, used, t0, final_actions,
                explored=int(obs.shape[0]), margin=margin, test_ratio_plugin=plugin,
                theta_rel_err_max=err["max"], theta_rel_err_mean=err["mean"],
                solve_failures=failed, log_lik_per_es=fit.history[-1]["log_lik_per_es"],
                fit_fresh=int(fit.start == "fresh"),
                **{f"theta_hat_{k + 1}": float(t) for k, t in enumerate(theta)},
            )
        )  # fmt: skip
    if final_actions is None or theta is None:
        raise ValueError(f"estimate_solve: budget {total} leaves no sample to explore with")
    finish_per_state(ctx, final_actions)
    last = rows[-1]
    ctx.extras.update(
        theta_hat=[float(t) for t in theta],
        theta_true=true_theta.tolist(),
        theta_rel_err_max=last["theta_rel_err_max"],
        margin=last["margin"],
        ratio_plugin=last["test_ratio_plugin"],
    )
    return rows
