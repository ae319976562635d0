"""The SB3 VecEnv backed by the batched contract env, and SB3 trained through it with EDMSAC's
updates per sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import TINY, tiny_config
from stable_baselines3.common.vec_env import VecEnv

from dyncontract.config import build_config
from dyncontract.env import BatchedContractEnv, ContractDesignEnv, EnvConfig
from dyncontract.env.sb3_vec import BatchedContractVecEnv
from dyncontract.experiments.methods.base import MethodContext
from dyncontract.experiments.methods.sb3 import make_model, run_sb3, sb3_kwargs
from dyncontract.model.scenario import Scenario
from dyncontract.rl.budget import Budget


def _env() -> BatchedContractEnv:
    return BatchedContractEnv(Scenario.default(), EnvConfig())


def test_vec_env_spaces_shapes_dones_and_rewards():
    env = _env()
    n = 64
    vec = BatchedContractVecEnv(env, n, seed=3)
    assert isinstance(vec, VecEnv) and vec.num_envs == n
    assert vec.observation_space.shape == (env.obs_dim,)
    assert vec.action_space.shape == (env.act_dim,)
    assert vec.observation_space.dtype == np.float32 and vec.action_space.dtype == np.float32
    assert float(vec.action_space.low.min()) == -1.0 and float(vec.action_space.high.max()) == 1.0
    obs = vec.reset()
    assert obs.shape == (n, env.obs_dim) and obs.dtype == np.float32
    assert vec.observation_space.contains(obs[0]) and np.abs(obs).max() <= 1.0
    rng = np.random.default_rng(0)
    for _ in range(3):
        act = rng.uniform(-1, 1, (n, env.act_dim)).astype(np.float32)
        nxt, rew, dones, infos = vec.step(act)
        assert nxt.shape == obs.shape and nxt.dtype == np.float32
        assert rew.shape == (n,) and rew.dtype == np.float32
        assert dones.shape == (n,) and dones.dtype == bool and dones.all()
        assert len(infos) == n
        term = np.stack([i["terminal_observation"] for i in infos])
        np.testing.assert_array_equal(term, obs)  # the scored states are the previous obs
        assert not np.array_equal(nxt, obs)  # fresh states
        # rewards: the batched env on the same states and actions (independent call)
        ref = env.step(torch.as_tensor(obs), torch.as_tensor(act))
        np.testing.assert_allclose(rew, ref["reward"].numpy().astype(np.float32), rtol=1e-6)
        np.testing.assert_array_equal([i["feasible"] for i in infos], ref["feasible"].numpy())
        obs = nxt


def test_vec_env_rewards_match_the_gymnasium_env():
    """The numpy gymnasium env, one state at a time, gives the same rewards."""
    env = _env()
    vec = BatchedContractVecEnv(env, 6, seed=1)
    obs = vec.reset()
    act = np.random.default_rng(1).uniform(-1, 1, (6, env.act_dim)).astype(np.float32)
    _, rew, _, _ = vec.step(act)
    genv = ContractDesignEnv(Scenario.default(), EnvConfig())
    for i in range(6):
        genv.reset(options={"obs": obs[i]})
        _, r, done, _, _ = genv.step(act[i])
        assert done and r == pytest.approx(float(rew[i]), rel=1e-5, abs=1e-5)


def test_vec_env_seeding_and_minimal_sub_env_access():
    env = _env()
    a = BatchedContractVecEnv(env, 8, seed=5)
    b = BatchedContractVecEnv(env, 8, seed=5)
    np.testing.assert_array_equal(a.reset(), b.reset())
    c = BatchedContractVecEnv(env, 8, seed=6)
    assert not np.array_equal(a.reset(), c.reset())
    # seed() takes effect at the next reset: same stream as a fresh env with that seed
    a.seed(11)
    first = a.reset()
    np.testing.assert_array_equal(first, BatchedContractVecEnv(env, 8, seed=11).reset())
    a.seed(11)
    np.testing.assert_array_equal(a.reset(), first)
    assert a.get_attr("render_mode") == [None] * 8
    assert a.get_attr("obs_dim", [0, 2]) == [env.obs_dim] * 2
    a.set_attr("tag", 3)
    assert a.get_attr("tag", 1) == [3]
    assert a.env_is_wrapped(object) == [False] * 8  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        a.get_attr("no_such_attribute")
    assert a.env_method("sample_states", 2, None, indices=[0])[0].shape == (2, env.obs_dim)
    with pytest.raises(RuntimeError):
        BatchedContractVecEnv(env, 2, seed=0).step_wait()


def test_sb3_defaults_match_edmsac_updates_per_sample():
    rl = tiny_config(num_envs=256, updates_per_iter=4, batch_size=128).rl
    kw = sb3_kwargs("sac", rl, 256)
    assert kw["train_freq"] == 1 and kw["gradient_steps"] == 4 and kw["batch_size"] == 128
    assert kw["gradient_steps"] / 256 == rl.updates_per_iter / rl.num_envs
    assert kw["learning_starts"] == rl.learning_starts - 1  # SB3: >, EDMSAC: >=
    ppo = sb3_kwargs("ppo", rl, 256)
    assert ppo["n_steps"] * 256 == 4096 and ppo["batch_size"] == 128


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_off_policy_trains_through_vec_env_with_configured_ratio(tmp_path, algo):
    n_envs, per_iter, starts = 32, 2, 256
    cfg = tiny_config(
        num_envs=n_envs, updates_per_iter=per_iter, batch_size=64, learning_starts=starts
    )
    ctx = MethodContext(cfg, tmp_path, options={"policy_kwargs": {"net_arch": [32, 32]}})
    model, updates = make_model(algo, ctx, seed=0)
    assert model.n_envs == n_envs and model.gradient_steps == per_iter
    steps = 200  # vector steps
    model.learn(total_timesteps=steps * n_envs, progress_bar=False)
    assert model.num_timesteps == steps * n_envs
    # EDMSAC's rule: per_iter updates after every vector step k with k * n_envs >= starts
    trained = sum(1 for k in range(1, steps + 1) if k * n_envs >= starts)
    assert updates[0] == per_iter * trained
    assert updates[0] == model._n_updates  # SB3's own count (critic gradient steps)
    ratio = updates[0] / (model.num_timesteps - starts)
    assert ratio == pytest.approx(per_iter / n_envs, rel=0.02)


def test_run_sb3_rows_report_samples_and_updates(tmp_path):
    rl = dict(num_envs=32, updates_per_iter=2, batch_size=64, learning_starts=64)
    cfg = build_config({}, {"rl": {**TINY, **rl}, "env": {"held_out_states": 8}})
    ctx = MethodContext(cfg, tmp_path, options={"policy_kwargs": {"net_arch": [16]}})
    rows = run_sb3("sac", ctx, 0, Budget(steps=2048, eval_every_steps=1024))
    assert [r["samples"] for r in rows] == [1024, 2048]
    last = rows[-1]
    assert last["updates"] == 2 * sum(1 for k in range(1, 65) if 32 * k >= 64)
    assert ctx.extras["sb3_n_envs"] == 32 and ctx.extras["sb3_n_updates"] == last["updates"]
    assert 0.0 <= last["ratio_single"] <= last["ratio_best_of_n"] <= 1.0 + 1e-9
    assert ctx.final and 0.0 <= ctx.final["ratio_single"] <= 1.0 + 1e-9  # test states
    # a spec option overrides the equal-footing defaults (here PPO's rollout length)
    ctx = MethodContext(cfg, tmp_path / "ppo", options={"n_steps": 8, "n_epochs": 1})
    rows = run_sb3("ppo", ctx, 0, Budget(steps=512, eval_every_steps=512))
    # 2 rollouts of 8 x 32 = 256 samples, each one epoch of 256 / 64 minibatches
    assert rows[-1]["samples"] == 512 and rows[-1]["updates"] == 2 * 4
