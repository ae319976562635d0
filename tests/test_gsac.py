"""GSAC (``--algo gsac``): the project's learner with a Gaussian actor instead of the diffusion
actor. It learns the toy bandit of ``helpers.py`` (known optimum a*(s) = 0.6 tanh(W s),
reward 0 there), round-trips through a checkpoint, and its log pi is the Gaussian density."""

from __future__ import annotations

import json
import math

import pytest
import torch
from helpers import TINY, TINY_RL, ToyBandit, optimum, tiny_config, tiny_rl_config, toy_trainer
from typer.testing import CliRunner

from dyncontract.cli.main import app
from dyncontract.rl.diffusion import DiffusionActor
from dyncontract.rl.edmsac import EDMSAC, make_actor
from dyncontract.rl.evaluation import build_actor, load_actor
from dyncontract.rl.gaussian import GaussianActor
from dyncontract.rl.pruning import compact_actor


def test_make_actor_follows_algo_and_gsac_is_never_pruned():
    for algo, cls in (
        ("gsac", GaussianActor),
        ("dmsac", DiffusionActor),
        ("edmsac", DiffusionActor),
    ):
        cfg = tiny_rl_config(algo=algo)
        actor = make_actor(cfg, 2, 3)
        assert type(actor) is cls
        assert actor.arch["kind"] == ("gaussian" if algo == "gsac" else "diffusion")
    cfg = tiny_rl_config(algo="gsac", prune_target=0.5)
    assert not cfg.pruning
    ag = EDMSAC(cfg, 2, 3)
    assert ag.pruner is None and ag.prune_ratio() == 0.0
    # the mean network is actor_layers x actor_hidden, on the state encoding
    assert ag.actor.widths == [TINY_RL["actor_hidden"]] * TINY_RL["actor_layers"]


def test_arch_rebuilds_each_kind_and_old_checkpoints_load_as_diffusion():
    torch.manual_seed(0)
    g = GaussianActor(2, 3, widths=[16, 8], state_dim=8)
    d = DiffusionActor(2, 3, n_steps=3, widths=[16], state_dim=8)
    assert type(build_actor(g.arch)) is GaussianActor
    assert type(build_actor(d.arch)) is DiffusionActor
    old = {k: v for k, v in d.arch.items() if k != "kind"}  # a checkpoint from before "kind"
    rebuilt = build_actor(old)
    assert type(rebuilt) is DiffusionActor and rebuilt.arch == d.arch
    # compaction still rebuilds a diffusion actor from its arch (which now carries kind)
    assert compact_actor(d).arch["kind"] == "diffusion"
    with pytest.raises(ValueError, match="kind"):
        GaussianActor(2, 3, kind="diffusion")  # type: ignore[arg-type]


def test_log_prob_is_the_gaussian_density_of_the_unclipped_action():
    torch.manual_seed(0)
    actor = GaussianActor(2, 3, widths=[32, 32], state_dim=8, log_std_min=-3.0, log_std_max=0.5)
    obs = torch.rand(256, 2, generator=torch.Generator().manual_seed(3)) * 2 - 1
    out = actor(obs, torch.Generator().manual_seed(0), mode="sample")
    # the same noise, drawn independently: the unclipped action mean + std z
    z = torch.randn(256, 3, generator=torch.Generator().manual_seed(0))
    std = out.log_std.exp()
    unclipped = out.mean + std * z
    assert torch.allclose(out.action, unclipped.clamp(-1, 1))
    inside = (unclipped.abs() < 1).all(-1)
    assert 20 < int(inside.sum()) < 256  # both clipped and unclipped actions occur
    lp = torch.distributions.Normal(out.mean, std).log_prob(unclipped).sum(-1)
    assert torch.allclose(lp, out.log_prob, atol=1e-5)
    # log-std bounds and the entropy of the Gaussian
    ls = out.log_std.detach()
    assert float(ls.min()) >= -3.0 and float(ls.max()) <= 0.5
    h = torch.distributions.Normal(out.mean, std).entropy().sum(-1)
    assert torch.allclose(actor.entropy_estimate(obs), h, atol=1e-5)
    # noise-free modes return the clamped mean and no log-density
    for mode in ("deterministic", "mean"):
        det = actor(obs, None, mode=mode)
        assert det.log_prob is None and torch.equal(det.action, out.mean)
        assert torch.equal(det.mean, det.raw_mean.clamp(-1, 1))


def test_straight_through_clamp_passes_gradients_outside_the_box():
    torch.manual_seed(0)
    actor = GaussianActor(2, 3, widths=[8], state_dim=4)
    with torch.no_grad():
        actor.mean_net.out.bias.fill_(5.0)  # every mean far outside [-1, 1]
    out = actor(torch.zeros(4, 2), None, mode="deterministic")
    assert torch.all(out.action == 1.0)
    out.action.sum().backward()
    assert actor.mean_net.out.bias.grad is not None
    assert torch.allclose(actor.mean_net.out.bias.grad, torch.full((3,), 4.0))


def test_gsac_learns_toy_bandit(tmp_path):
    torch.manual_seed(0)
    cfg = tiny_config(algo="gsac", updates_per_iter=4)
    env = ToyBandit()
    tr = toy_trainer(cfg.rl, tmp_path / "run", steps=10_000, env=env)
    assert isinstance(tr.agent.actor, GaussianActor)
    obs = env.sample_states(512, torch.Generator().manual_seed(99))
    # the untrained actor, scored directly on the env (a Gaussian learns so fast that the
    # first metrics row, after 1024 samples, is already close to the optimum)
    before = float(env.step(obs, tr.agent.act(obs, None, mode="deterministic"))["reward"].mean())
    rows = tr.train()
    last = rows[-1]["eval_reward"]
    after = float(env.step(obs, tr.agent.act(obs, None, mode="deterministic"))["reward"].mean())
    # the optimum scores 0 (reward -||a - a*(s)||^2)
    assert after > before + 0.1, (before, after)
    assert last > -0.05 and after > -0.05, (last, after)
    err = (tr.agent.act(obs, None, mode="deterministic") - optimum(obs)).abs()
    assert float(err.mean()) < 0.1, float(err.mean())
    assert all(r["prune_ratio"] == 0.0 for r in rows)
    # checkpoint round trip: the loaded actor acts exactly like the trained one
    loaded = load_actor(tmp_path / "run")
    assert isinstance(loaded, GaussianActor) and loaded.arch == tr.agent.actor.arch
    for mode in ("deterministic", "sample"):
        a = tr.agent.actor.act(obs, torch.Generator().manual_seed(5), mode=mode)
        b = loaded.act(obs, torch.Generator().manual_seed(5), mode=mode)
        assert torch.equal(a, b), mode


def test_train_and_evaluate_gsac_on_contract_env(tmp_path):
    runner = CliRunner()
    out = tmp_path / "grun"
    args = ["train", "--algo", "gsac", "--steps", "1024", "--out", str(out), "--device", "cpu"]
    args += ["-q"]
    for s in (
        *(f"rl.{k}={v}" for k, v in TINY.items()),
        "env.held_out_states=12",
        "rl.num_envs=128",
        "rl.eval_every_steps=512",
    ):
        args += ["--set", s]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert (out / "config.yaml").read_text().count("algo: gsac") == 1
    res = runner.invoke(
        app, ["evaluate", str(out), "--states", "12", "--json", str(tmp_path / "g.json")]
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "g.json").read_text())
    assert data["algo"] == "gsac" and data["pruning_ratio"] == 0.0
    assert data["hidden_widths"] == {"dense": [64, 64], "compact": [64, 64]}
    assert data["compact_max_abs_diff"] == 0.0
    ms = data["denoise_ms_per_1k_states"]
    assert ms["dense"] == ms["compact"] and math.isfinite(ms["dense"]) and ms["dense"] > 0
    assert 0.0 <= data["ratio_single"] <= 1.0 + 1e-9
