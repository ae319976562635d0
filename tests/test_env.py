"""The learning environment: checkers, batched = gymnasium, feasibility flags, held-out cache."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from pydantic import ValidationError
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import dyncontract  # noqa: F401  (registers the env)
from dyncontract.env import BatchedContractEnv, ContractDesignEnv, EnvConfig, HeldOutSet
from dyncontract.model import Scenario, check_feasibility
from dyncontract.model.contract import Contract, expected_profit
from dyncontract.solvers import solve_dynamic, static_contract


@pytest.mark.parametrize("mode", ["structured", "menu"])
def test_env_checkers(mode: str) -> None:
    env = gym.make("dyncontract/ContractDesign-v0", action_mode=mode)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(ContractDesignEnv(action_mode=mode), warn=True)


def test_registered_on_import() -> None:
    assert "dyncontract/ContractDesign-v0" in gym.registry


@pytest.mark.parametrize("mode", ["structured", "menu"])
def test_batched_equals_gymnasium(mode: str) -> None:
    env = ContractDesignEnv(action_mode=mode)
    benv = BatchedContractEnv(Scenario.default(), EnvConfig(), action_mode=mode)
    rng = np.random.default_rng(0)
    obs_list, act_list, ref = [], [], []
    for i in range(60):
        obs, _ = env.reset(seed=i)
        a = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        if i % 3 == 0:  # near the optimum too, not only random contracts
            sc = env.dist.scenarios(obs[None])[0]
            opt = solve_dynamic(sc).contract
            T = np.concatenate([opt.T1, opt.T2.ravel()]) / sc.t_max * 2 - 1
            a[: T.size] = T + rng.normal(0, 0.01, T.size)
            a = np.clip(a, -1, 1).astype(np.float32)
        _, r, term, trunc, info = env.step(a)
        assert term and not trunc
        obs_list.append(obs)
        act_list.append(a)
        ref.append((r, info["profit"], info["feasible"], info["max_violation"]))
    out = benv.step(torch.as_tensor(np.array(obs_list)), torch.as_tensor(np.array(act_list)))
    r, profit, feas, mv = (np.array(x, dtype=float) for x in zip(*ref, strict=True))
    np.testing.assert_allclose(out["reward"].numpy(), r, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out["profit"].numpy(), profit, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out["feasible"].numpy(), feas.astype(bool))
    np.testing.assert_allclose(out["max_violation"].numpy(), mv, rtol=1e-6, atol=1e-6)
    if mode == "structured":  # both flags occur
        assert 0 < feas.mean() < 1


def test_structured_mode_never_marks_infeasible_as_feasible() -> None:
    benv = BatchedContractEnv(Scenario.default(), EnvConfig(), action_mode="structured")
    g = torch.Generator().manual_seed(1)
    obs = benv.sample_states(300, g)
    act = torch.rand(300, benv.act_dim, generator=g, dtype=torch.float64) * 2 - 1
    out = benv.step(obs, act)
    ct = benv.contracts(obs, act)
    scen = benv.dist.scenarios(obs.numpy())
    n_feasible = 0
    for j in range(300):
        c = Contract(
            ct["T1"][j].numpy(), ct["R1"][j].numpy(), ct["T2"][j].numpy(), ct["R2"][j].numpy()
        )
        rep = check_feasibility(c, scen[j])
        if bool(out["feasible"][j]):
            n_feasible += 1
            assert rep.feasible, rep.violations[:3]
            assert out["profit"][j].item() == pytest.approx(expected_profit(c, scen[j]), rel=1e-9)
        else:
            assert out["reward"][j].item() < 0  # penalised
    assert 50 < n_feasible < 300


def test_oracle_info_and_optimal_action_scores_near_one() -> None:
    env = ContractDesignEnv(oracle=True)
    obs, _ = env.reset(seed=3)
    sc = env.dist.scenarios(obs[None])[0]
    opt = solve_dynamic(sc).contract
    a = np.concatenate([opt.T1, opt.T2.ravel()]) / sc.t_max * 2 - 1
    _, _, _, _, info = env.step(a.astype(np.float32))
    assert info["optimal_status"] == "optimal"
    if info["feasible"]:
        assert info["optimality_ratio"] == pytest.approx(1.0, abs=2e-5)
    # the static contract is feasible and scores below the dynamic optimum
    st = static_contract(sc)
    assert st.profit <= info["optimal_profit"] + 1e-6


def test_raw_mode_was_removed_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="action_mode"):
        ContractDesignEnv(action_mode="raw")
    with pytest.raises(ValidationError, match="action_mode"):
        EnvConfig(action_mode="raw")


def test_heldout_cache_roundtrip(tmp_path) -> None:
    base = Scenario.default()
    cfg = EnvConfig()
    h1 = HeldOutSet.build(base, cfg, n=6, seed=4, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    h2 = HeldOutSet.build(base, cfg, n=6, seed=4, cache_dir=tmp_path)
    np.testing.assert_array_equal(h1.obs, h2.obs)
    np.testing.assert_array_equal(h1.optimal_profit, h2.optimal_profit)
    assert h1.all_optimal
    assert np.all(h1.optimal_profit >= h1.static_profit - 1e-6)
    # a different seed is a different set
    h3 = HeldOutSet.build(base, cfg, n=6, seed=5, cache_dir=tmp_path)
    assert not np.allclose(h1.obs, h3.obs)
