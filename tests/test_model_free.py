"""The model-free menu setting: what the CS observes (picks), the env's sample counter, the
soft choice that the likelihood of picks uses, and the sample accounting of every
model-free method against the env's own counter."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dyncontract.env import BatchedContractEnv, EnvConfig
from dyncontract.env.estimation import menu_action_free
from dyncontract.model import Scenario
from dyncontract.model.choice import _soft_own_period, choose_np, soft_choose
from dyncontract.solvers import solve_dynamic

FREE = {"action_mode": "menu", "menu_payments": "free", "menu_reward": "sampled"}


def _benv(**kw: Any) -> BatchedContractEnv:
    return BatchedContractEnv(Scenario.default(), EnvConfig(**{**FREE, **kw}))


# ---------------------------------------------------------------------------------------------
# What the CS observes: the picks of the sampled ESs
# ---------------------------------------------------------------------------------------------
def test_picks_are_the_choices_of_the_drawn_types() -> None:
    """For one state and one random menu, the frequency of each (period-1, period-2) pick
    pair over many draws matches sum_{k,i} p_k Q[k, i] [type pair (k, i) picks it], with the
    picks of each type pair computed one menu at a time by choose_np (numpy)."""
    benv = _benv(menu_population=50)
    rng = np.random.default_rng(0)
    o = benv.dist.sample(1, rng)
    sc = benv.dist.scenarios(o)[0]
    K = sc.K
    # the optimal menu, perturbed so that some types decline and some lie
    c = solve_dynamic(sc).contract
    R1, R2 = c.R1.copy(), c.R2.copy()
    R1[0] -= 0.3  # the least willing type's period-1 item now loses money
    R2[2, 4] += 0.3  # after report 2, more types prefer item 4
    a = menu_action_free(benv, c.T1, R1, c.T2, R2)
    obs = torch.as_tensor(o).repeat(4000, 1)
    act = torch.as_tensor(a[None]).repeat(4000, 1)
    out = benv.step(obs, act, generator=torch.Generator().manual_seed(1))
    picks = out["picks"]
    assert picks.shape == (4000, K + 1, K + 1)
    assert torch.all(picks.sum((1, 2)) == 50)
    ct = benv.contracts(obs[:1], act[:1])
    T1, R1, T2, R2 = (ct[k][0].numpy() for k in ("T1", "R1", "T2", "R2"))
    ch = choose_np(T1, R1, T2, R2, sc)
    law = np.zeros((K + 1, K + 1))
    for k, i in itertools.product(range(K), range(K)):
        r1 = int(ch.period1[k])
        r2 = int(ch.period2[r1, i]) if r1 >= 0 else -1
        law[r1 if r1 >= 0 else K, r2 if r2 >= 0 else K] += sc.prior[k] * sc.transition[k, i]
    assert law[K, :K].sum() == 0  # a period-1 decline has no period 2
    freq = picks.sum(0).numpy() / picks.sum().item()
    n = picks.sum().item()
    assert law[K, K] > 0 and law[2, 4] > 0 and (law > 0).sum() >= 5  # declines and lies
    np.testing.assert_allclose(freq, law, atol=5 * np.sqrt(0.25 / n))
    assert ((freq > 0) <= (law > 0)).all()  # no pick the rule does not allow
    # the realised profit comes from the same draws: a menu everyone declines earns 0
    none = torch.as_tensor(np.r_[a[: K + K * K], -np.ones(K + K * K)][None])
    out0 = benv.step(obs[:3], none.repeat(3, 1))
    assert torch.all(out0["picks"][:, K, K] == 50) and torch.all(out0["sampled_profit"] == 0)


def test_optimal_menu_under_free_payments_earns_the_optimum_and_is_picked_truthfully() -> None:
    benv = _benv()
    o = benv.dist.sample(3, np.random.default_rng(2))
    acts = []
    for sc in benv.dist.scenarios(o):
        c = solve_dynamic(sc).contract
        assert c.R1.max() < benv.r_max and c.R2.max() < benv.r_max  # representable
        acts.append(menu_action_free(benv, c.T1, c.R1, c.T2, c.R2))
    obs = torch.as_tensor(o)
    out = benv.step(obs, torch.as_tensor(np.array(acts)), count=False)
    opt = np.array([solve_dynamic(sc).profit for sc in benv.dist.scenarios(o)])
    np.testing.assert_allclose(out["profit"].numpy(), opt, rtol=1e-6)
    assert bool(out["truthful"].all())
    assert torch.all(out["picks"][:, 5, :] == 0) and torch.all(out["picks"][:, :, 5] == 0)


def test_the_env_counts_its_samples_and_scoring_does_not() -> None:
    from dyncontract.env import ContractEvaluator, HeldOutSet

    benv = _benv()
    obs = benv.sample_states(7, np.random.default_rng(3))
    act = torch.zeros(7, benv.act_dim)
    benv.step(obs, act)
    benv.step(obs[:3], act[:3])
    assert benv.samples == 10
    benv.step(obs, act, count=False)
    assert benv.samples == 10
    held = HeldOutSet.build(benv.base, benv.cfg, n=4, split="test")
    ContractEvaluator(benv, held)(lambda o: torch.zeros(o.shape[0], benv.act_dim))
    assert benv.samples == 10


# ---------------------------------------------------------------------------------------------
# The soft choice (the likelihood's noise model)
# ---------------------------------------------------------------------------------------------
def test_soft_own_period_acceptance_against_enumeration() -> None:
    """_soft_own_period against a direct sum over every acceptable set (independent items,
    Pr(acceptable) = sigmoid), each a softmax with declining at 0."""
    g = torch.Generator().manual_seed(0)
    logit = 3 * torch.randn(3, 4, 4, generator=g, dtype=torch.float64)
    acc = 2 * torch.randn(3, 4, 4, generator=g, dtype=torch.float64)
    got = _soft_own_period(logit, acc)
    ref = torch.zeros_like(got)
    a = torch.sigmoid(acc)
    for bits in itertools.product([False, True], repeat=4):
        m = torch.tensor(bits)
        w = torch.where(m, a, 1 - a).prod(-1)
        x = torch.cat([logit.masked_fill(~m, -math.inf), torch.zeros_like(logit[..., :1])], -1)
        ref += w[..., None] * torch.softmax(x, -1)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("acceptance", ["own_period", "forward_looking"])
def test_soft_choice_tends_to_the_hard_rule(acceptance: str) -> None:
    """At a tiny temperature the most likely soft choice is the hard rule's, for every type
    and history of random menus (including items that lose money and ones an ES declines)."""
    benv = _benv(menu_acceptance=acceptance)
    rng = np.random.default_rng(4)
    obs = benv.sample_states(300, rng).double()
    act = torch.as_tensor(rng.uniform(-1, 1, (300, benv.act_dim)))
    act[:100, benv.K + benv.K**2 :] = torch.as_tensor(rng.uniform(-1, -0.8, (100, 30)))
    ct = benv.contracts(obs, act)
    hard = benv.menu_outcome(ct)
    soft = soft_choose(
        ct["T1"], ct["R1"], ct["T2"], ct["R2"], ct["Q"], ct["c"], benv.base, tau=1e-5,
        acceptance=acceptance,
    )  # fmt: skip
    K = benv.K
    h1 = torch.where(hard["period1"] < 0, K, hard["period1"])
    h2 = torch.where(hard["period2"] < 0, K, hard["period2"])
    assert (h1 == K).any() and (h2 == K).any()  # declines occur
    assert torch.equal(soft.P1.argmax(-1), h1)
    assert torch.equal(soft.P2.argmax(-1), h2)
    torch.testing.assert_close(soft.P1.sum(-1), torch.ones_like(soft.P1[..., 0]))


def test_fit_theta_recovers_the_types_from_picks() -> None:
    """Picks of sampled ESs from random free-payment menus (the env's own draws, hard choice)
    identify θ: the likelihood fit lands within 1 % of every θ_k from an uninformed start."""
    from dyncontract.env.estimation import fit_theta, relative_error

    base = Scenario.default().replace(theta=[1.0, 2.0, 3.5], prior=[1 / 3] * 3, persistence=0.7)
    benv = BatchedContractEnv(base, EnvConfig(**FREE))  # K = 3 keeps the test short
    rng = np.random.default_rng(5)
    obs = benv.sample_states(2000, rng)
    act = torch.as_tensor(rng.uniform(-1, 1, (2000, benv.act_dim)))
    picks = benv.step(obs, act, generator=torch.Generator().manual_seed(5))["picks"]
    fit = fit_theta(benv, obs, act, picks, taus=(1.0, 0.1, 0.01))
    err = relative_error(fit.theta, np.asarray(base.theta))
    assert err["max"] < 0.01, (fit.theta, err)
    start = relative_error(np.arange(1.0, 4.0), np.asarray(base.theta))
    assert start["max"] > 0.1  # the start (1, 2, 3) was off
    assert fit.history[-1]["log_lik_per_es"] > fit.history[0]["log_lik_per_es"]


def test_refit_escapes_types_merged_by_an_earlier_fit() -> None:
    """An estimate whose types merged (gaps ~1e-4) gets no gradient to separate them again: a
    refit from it alone stays merged; :func:`refit_theta` also fits afresh, keeps the likelier
    candidate and lands within 1 % of every θ_k."""
    from dyncontract.env.estimation import fit_theta, refit_theta, relative_error

    base = Scenario.default().replace(theta=[1.0, 2.0, 3.5], prior=[1 / 3] * 3, persistence=0.7)
    benv = BatchedContractEnv(base, EnvConfig(**FREE))
    rng = np.random.default_rng(7)
    obs = benv.sample_states(2000, rng)
    act = torch.as_tensor(rng.uniform(-1, 1, (2000, benv.act_dim)))
    picks = benv.step(obs, act, generator=torch.Generator().manual_seed(7))["picks"]
    merged = np.array([1.0, 2.9999, 3.0])
    stuck = fit_theta(benv, obs, act, picks, taus=(0.03, 0.01), theta0=merged)
    assert relative_error(stuck.theta, np.asarray(base.theta))["max"] > 0.1, stuck.theta
    fit = refit_theta(benv, obs, act, picks, merged, fresh_menus=1024)
    assert fit.start == "fresh"
    err = relative_error(fit.theta, np.asarray(base.theta))
    assert err["max"] < 0.01, (fit.theta, err)
    assert fit.history[-1]["log_lik_per_es"] > stuck.history[-1]["log_lik_per_es"]
    # a good previous estimate is kept (and refined) rather than the fresh fit on fewer menus
    again = refit_theta(benv, obs, act, picks, fit.theta, fresh_menus=64)
    assert again.start == "previous"
    assert relative_error(again.theta, np.asarray(base.theta))["max"] < 0.01


# ---------------------------------------------------------------------------------------------
# Every model-free method: its reported samples are the env's own count
# ---------------------------------------------------------------------------------------------
FREE_METHODS = ["edmsac_free", "dmsac_free", "gsac_free", "sac_free", "cma_free", "static_free"]
FREE_METHODS += ["estimate_solve"]
#: small options for the tiny test budgets
OPTIONS: dict[str, dict[str, Any]] = {
    "estimate_solve": {"steps": 5, "select_states": 2, "margins": [0, 0.01]},
}


def test_every_model_free_method_is_tested() -> None:
    from dyncontract.experiments.methods import METHODS

    free = {m for m, meth in METHODS.items() if meth.config.get("env", {}).get("menu_reward")}
    assert free == set(FREE_METHODS)


@pytest.fixture
def env_counter(monkeypatch: pytest.MonkeyPatch) -> list[BatchedContractEnv]:
    """Every BatchedContractEnv built while the test runs (their counters are the truth)."""
    made: list[BatchedContractEnv] = []
    init = BatchedContractEnv.__init__

    def tracking(self: BatchedContractEnv, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(BatchedContractEnv, "__init__", tracking)
    return made


@pytest.mark.parametrize("method", FREE_METHODS)
def test_sample_count_is_the_envs_own(
    method: str, tmp_path: Path, env_counter: list[BatchedContractEnv]
) -> None:
    import json

    from dyncontract.experiments.runner import run_task
    from dyncontract.experiments.spec import ExperimentSpec, expand
    from dyncontract.rl.rundir import RunDir

    spec = ExperimentSpec(
        name="mf",
        methods=[method],
        seeds=[0],
        budget={"steps": 400 if method == "estimate_solve" else 5000, "eval_every_steps": 2000},
        held_out_states=8,
        config={f"env.{k}": v for k, v in FREE.items()},
        ablations={"prune_target": [], "diffusion_steps": [], "seeds": [0]},
        f3={"K": [2], "persistence": [0.5], "energy_price": [0.05], "discount": [0.9]},
        sb3={method: OPTIONS.get(method, {})},
    )
    (task,) = expand(spec)
    run_task(task, str(tmp_path), options=spec.options(method))
    ev = json.loads((task.run_dir(tmp_path) / "eval.json").read_text())
    counted = sum(e.samples for e in env_counter)
    assert counted > 0 and ev["samples"] == counted
    rows = RunDir(task.run_dir(tmp_path)).read_metrics()
    assert rows[-1]["samples"] == counted <= 5000 + 256  # learners stop at the first batch past it
    assert "test_ratio_single" in rows[-1]
    assert all(a["samples"] < b["samples"] for a, b in zip(rows, rows[1:], strict=False))


def test_a_resumed_learner_run_reports_its_wall_across_processes(tmp_path: Path) -> None:
    """A learner run interrupted after its last checkpoint (metrics at the budget, no eval.json
    or DONE) is finished by the next sweep from the checkpoint: its wall time is the training
    wall the checkpoint carries plus the rest, not only the resuming process's few seconds."""
    import json

    from dyncontract.experiments.runner import run_task
    from dyncontract.experiments.spec import ExperimentSpec, expand
    from dyncontract.rl.rundir import RunDir

    spec = ExperimentSpec(
        name="mf",
        methods=["edmsac_free"],
        seeds=[0],
        budget={"steps": 2000, "eval_every_steps": 1000},
        held_out_states=8,
        config={f"env.{k}": v for k, v in FREE.items()},
        ablations={"prune_target": [], "diffusion_steps": [], "seeds": [0]},
        f3={"K": [2], "persistence": [0.5], "energy_price": [0.05], "discount": [0.9]},
    )
    (task,) = expand(spec)
    run_task(task, str(tmp_path))
    d = task.run_dir(tmp_path)
    run = RunDir(d)
    # the interruption: as if the first process had trained for 1000 s before it was killed
    ck = run.load_checkpoint(map_location="cpu")
    ck["elapsed"] = 1000.0
    run.save_checkpoint(ck)
    rows = run.read_metrics()
    rows[-1]["wall_s"] = 1000.0
    run.write_metrics(rows)
    (d / "eval.json").unlink()
    (d / "DONE").unlink()
    run_task(task, str(tmp_path))
    ev = json.loads((d / "eval.json").read_text())
    assert 1000.0 <= ev["train_wall_s"] < 1100.0
    assert ev["samples"] == rows[-1]["samples"]  # resumed, not retrained


def test_results_page_reports_each_methods_last_curve_point(tmp_path: Path) -> None:
    """The model-free table of docs/results.md, rendered from a small data folder: the last
    column is each method's last curve point (a learner's last point may exceed the nominal
    budget by a batch), and the figure is drawn from the same data."""
    import pandas as pd

    from dyncontract.experiments import results_doc

    folder = tmp_path / "data" / "menu_free"
    folder.mkdir(parents=True)
    (folder / "provenance.json").write_text(
        '{"command": "t", "git_revision": "0", "date_utc": "now", "machine": "m"}'
    )
    pd.DataFrame(
        {"method": ["a", "b"], "seeds": [3, 3], "ratio_single": [0.9, 0.8],
         "ratio_single_ci95": [0.01, 0.02], "ratio_single_p05": [0.8, 0.7],
         "ratio_single_median": [0.9, 0.8], "beats_static_best": [0.0, 0.0],
         "samples": [1_200_128, 1_200_000], "wall_s": [10.0, 20.0]}
    ).to_csv(folder / "summary.csv", index=False)  # fmt: skip
    pd.DataFrame(
        {"method": ["a", "a", "b", "b"], "samples": [500, 1_200_128, 100, 1_200_000],
         "ratio": [0.5, 0.91, 0.6, 0.81], "ratio_ci95": [0.1, 0.01, 0.1, 0.02],
         "seeds": [3, 3, 3, 3], "wall_s": [1.0, 9.0, 1.0, 19.0]}
    ).to_csv(folder / "curves.csv", index=False)  # fmt: skip
    lines = results_doc._menu_free_section(folder)
    row_a = next(ln for ln in lines if ln.startswith("| a |") and "(500)" in ln)
    assert row_a.rstrip(" |").endswith("0.9100 ± 0.0100 (1,200,128)")
    row_b = next(ln for ln in lines if ln.startswith("| b |") and "(100)" in ln)
    assert row_b.rstrip(" |").endswith("0.8100 ± 0.0200 (1,200,000)")
    written = results_doc.figures_from_data(tmp_path / "data", tmp_path / "figures")
    assert any(p.suffix == ".png" and p.stat().st_size > 0 for p in written)
