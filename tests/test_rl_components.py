"""Replay buffer groups, config validation, critic losses, evaluation actions."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from dyncontract.config import ConfigError, load_config
from dyncontract.rl.buffer import Batch, ReplayBuffer
from dyncontract.rl.config import RLConfig
from dyncontract.rl.edmsac import EDMSAC, actor_objective, clip_grad_norm, lr_factor


def _batch(n: int, obs_dim: int = 3, act_dim: int = 2, start: int = 0) -> Batch:
    obs = torch.arange(start, start + n, dtype=torch.float32)[:, None].repeat(1, obs_dim)
    return Batch(obs, torch.zeros(n, act_dim), obs[:, 0].clone(), obs, torch.ones(n))


def test_buffer_ring_and_groups():
    buf = ReplayBuffer(10, 3, 2, torch.device("cpu"), group=4)
    assert buf.capacity == 8  # rounded down to whole groups
    buf.add(_batch(8))
    buf.add(_batch(4, start=100))  # overwrites the oldest group
    assert buf.size == 8 and buf.ptr == 4
    b = buf.sample(16, torch.Generator().manual_seed(0))
    rows = b.rew.view(-1, 4)
    # every sampled group is 4 consecutive transitions of one collection call
    assert torch.all(rows[:, 1:] - rows[:, :-1] == 1)
    assert set(rows[:, 0].tolist()) <= {4.0, 100.0}
    st = buf.state_dict()
    other = ReplayBuffer(10, 3, 2, torch.device("cpu"), group=4)
    other.load_state_dict(st)
    assert torch.equal(other.rew[: other.size], buf.rew[: buf.size]) and other.ptr == buf.ptr


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"actions_per_state": 3}, "actions_per_state"),
        ({"actor_batch_size": 10_000}, "actor_batch_size"),
        ({"reward_clip_quantile": 0.7}, "reward_clip_quantile"),
        ({"prune_start_frac": 0.8, "prune_end_frac": 0.2}, "prune_end_frac"),
        ({"batch_size": 10, "buffer_size": 5}, "batch_size"),
        ({"log_std_min": 0.0, "log_std_max": -1.0}, "log_std_max"),
        ({"gamma": 1.5}, "gamma"),
    ],
)
def test_rl_config_validation(kw, field):
    with pytest.raises(ValidationError, match=field):
        RLConfig(**kw)


def test_rl_section_in_config_file_errors():
    with pytest.raises(ConfigError, match=r"^rl\.actor_lr: must be > 0"):
        load_config(None, {"rl": {"actor_lr": 0}})
    with pytest.raises(ConfigError, match=r"^rl\.eval_action"):
        load_config(None, {"rl": {"eval_action": "greedy"}})
    assert load_config(None, {"rl": {"algo": "dmsac"}}).rl.pruning is False


def test_lr_schedules():
    assert lr_factor("constant", 0.7, 0.1) == 1.0
    assert lr_factor("cosine", 0.0, 0.1) == pytest.approx(1.0)
    assert lr_factor("cosine", 1.0, 0.1) == pytest.approx(0.1)
    assert lr_factor("linear", 0.5, 0.0) == pytest.approx(0.5)


@pytest.mark.parametrize("clip", [{"reward_clip_quantile": 0.2}, {"reward_clip_margin": 0.5}, None])
def test_clipped_targets_bound_huge_penalties(clip):
    """A -1000 penalty is raised to the 20 % batch quantile, or to its state's median - 0.5;
    without clipping it dominates the critic loss."""
    torch.manual_seed(0)
    kw = {"reward_clip_quantile": None} if clip is None else {"reward_clip_quantile": None, **clip}
    cfg = RLConfig(
        actor_hidden=16,
        critic_hidden=16,
        critic_layers=1,
        batch_size=8,
        actions_per_state=4,
        num_envs=8,
        critic_center_weight=1.0,
        prune_target=0.0,
        **kw,
    )
    ag = EDMSAC(cfg, 3, 2)
    obs = torch.zeros(8, 3)
    obs[4:] = 1.0
    act = torch.rand(8, 2) * 2 - 1
    rew = torch.tensor([1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, -1000.0])
    info = ag.update(Batch(obs, act, rew, obs, torch.ones(8)), None, 0.0)
    if clip is None:
        assert info["critic_loss"] > 1e5
    else:
        assert info["critic_loss"] < 100


def test_eval_modes_are_deterministic_where_they_should_be():
    torch.manual_seed(0)
    ag = EDMSAC(RLConfig(actor_hidden=16, critic_hidden=16, prune_target=0.0), 3, 2)
    obs = torch.rand(5, 3)
    a = ag.act(obs, torch.Generator().manual_seed(0), mode="deterministic")
    b = ag.act(obs, torch.Generator().manual_seed(1), mode="deterministic")
    assert torch.equal(a, b)
    m1 = ag.act(obs, torch.Generator().manual_seed(0), mode="mean")
    m2 = ag.act(obs, torch.Generator().manual_seed(0), mode="mean")
    assert torch.equal(m1, m2) and m1.abs().max() <= 1
    s1 = ag.act(obs, torch.Generator().manual_seed(0), mode="sample")
    s2 = ag.act(obs, torch.Generator().manual_seed(1), mode="sample")
    assert not torch.equal(s1, s2)


@pytest.mark.parametrize("algo", ["dmsac", "gsac"])
def test_imitation_loss_teaches_the_actor_a_target_action(algo):
    """Minimising the actor's imitation loss alone (the denoising loss for the diffusion actor)
    makes its noise-free action reproduce per-state targets it has never output."""
    torch.manual_seed(0)
    cfg = RLConfig(algo=algo, actor_hidden=64, prune_target=0.0)
    ag = EDMSAC(cfg, 2, 3)
    obs = torch.tensor([[-1.0, 0.5], [1.0, -0.5]])
    target = torch.tensor([[0.6, -0.7, 0.2], [-0.4, 0.8, -0.9]])
    before = (ag.act(obs, None, mode="deterministic") - target).abs().max()
    opt = torch.optim.Adam(ag.actor.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    for _ in range(600):
        loss = ag.actor.imitation_loss(obs.repeat(32, 1), target.repeat(32, 1), g).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = (ag.act(obs, None, mode="deterministic") - target).abs().max()
    assert before > 0.3 and after < 0.1, (before, after)


def test_imitation_term_is_active_only_with_groups():
    """imitation_weight > 0 on grouped one-step batches: the actor loss gains the term (an
    ``imitation_share`` diagnostic in [0, 1]); without groups nothing changes."""
    torch.manual_seed(0)
    cfg = RLConfig(actor_hidden=16, critic_hidden=16, prune_target=0.0, imitation_weight=1.0,
                   actions_per_state=4, batch_size=16, num_envs=16)  # fmt: skip
    ag = EDMSAC(cfg, 3, 2)
    b = Batch(torch.rand(4, 3).repeat_interleave(4, 0), torch.rand(16, 2) * 2 - 1,
              torch.randn(16), torch.rand(16, 3), torch.ones(16))  # fmt: skip
    info = ag.update(b, torch.Generator().manual_seed(0), 0.0)
    assert 0.0 <= float(info["imitation_share"]) <= 1.0
    ag1 = EDMSAC(cfg.model_copy(update={"actions_per_state": 1}), 3, 2, group=1)
    assert "imitation_share" not in ag1.update(b, torch.Generator().manual_seed(0), 0.0)


def test_coordinate_probe_redraws_one_coordinate_in_a_share_of_rows():
    from dyncontract.rl.trainer import coordinate_probe

    a = torch.full((4000, 5), 0.25)
    b = coordinate_probe(a, 0.3, torch.Generator().manual_seed(0))
    changed = (b != a).sum(1)
    assert changed.max() == 1 and abs(changed.float().mean() - 0.3) < 0.03
    vals = b[b != a]
    assert vals.abs().max() <= 1 and abs(vals.mean()) < 0.05 and vals.std() > 0.5  # ~U[-1, 1]
    cols = (b != a).float().sum(0) / changed.sum()
    assert torch.allclose(cols, torch.full((5,), 0.2), atol=0.04)  # every coordinate alike
    assert torch.equal(coordinate_probe(a, 0.0, None), a)


def test_compiled_critic_and_chain_update_like_eager():
    """rl.compile_critic + rl.compile_chain: the inductor-compiled critics give the eager
    critics' Q values, the compiled actor objective the eager one's loss, log-probabilities
    and means on the same noises, and a few full
    updates (critic, actor through the chain and the critic, temperature; EDMSAC with masks
    and its probe) stay equal to float rounding; state_dict keys are the eager ones."""
    cfg = RLConfig(
        num_envs=32, batch_size=32, actions_per_state=4, critic_hidden=32, actor_hidden=16,
        actor_layers=2, diffusion_steps=3, learning_starts=0,
    )  # fmt: skip
    g = torch.Generator().manual_seed(0)
    obs = (torch.rand(8, 3, generator=g) * 2 - 1).repeat_interleave(4, 0)
    act = torch.rand(32, 2, generator=g) * 2 - 1
    batch = Batch(obs, act, -(act**2).sum(-1), obs, torch.ones(32))
    agents = []
    for compiled in (False, True):
        torch.manual_seed(0)
        upd = {"compile_critic": compiled, "compile_chain": compiled, "prune_probe_every": 2}
        ag = EDMSAC(cfg.model_copy(update=upd), 3, 2)
        ag.pruner.apply_ratio(0.5)
        agents.append(ag)
    eager, comp = agents
    assert comp.compiled_objective is not None and eager.compiled_objective is None
    assert comp.compiled_critic_objective is not None and comp.cfg.critic_center_weight > 0
    assert torch.allclose(eager.critic.q_min(obs, act), comp.critic.q_min(obs, act), atol=1e-5)
    alpha = torch.tensor(0.3)
    outs = []
    for fn, ag in ((actor_objective, eager), (comp.compiled_objective, comp)):
        inp = ag.actor.sample_inputs(obs, torch.Generator().manual_seed(3))
        outs.append(fn(ag.actor, ag.critic, obs, alpha, inp))
    for a, b in zip(*outs, strict=True):  # loss, log-probabilities, raw means
        assert torch.allclose(a, b, atol=1e-5)
    for ag in agents:
        gen = torch.Generator().manual_seed(1)
        for _ in range(4):  # probed and unprobed actor updates
            ag.update(batch, gen, progress=0.6)
    se, sc = eager.critic.state_dict(), comp.critic.state_dict()
    assert list(se) == list(sc)
    for k in se:
        assert torch.allclose(se[k], sc[k], atol=1e-4, rtol=1e-3), k
    for k, v in eager.actor.state_dict().items():
        assert torch.allclose(v, comp.actor.state_dict()[k], atol=1e-4, rtol=1e-3), k


@pytest.mark.parametrize("max_norm, nan", [(1e-3, False), (0.5, False), (1e6, False), (1e6, True)])
def test_clip_grad_norm_matches_torch(max_norm, nan):
    """edmsac.clip_grad_norm gives torch's clip_grad_norm_ numbers bit for bit, clipping
    or not (it skips the multiplication by 1.0), with a NaN gradient too, and the same
    returned norm; parameters without a gradient are ignored by both."""
    g = torch.Generator().manual_seed(0)
    shapes = [(3, 4), (4,), (2, 5, 5), (1,)]
    grads = [torch.randn(s, generator=g) for s in shapes]
    grads[2][0, 0, :2] = 1e-40  # subnormal entries
    if nan:
        grads[1][0] = float("nan")
    runs = []
    for fn in (torch.nn.utils.clip_grad_norm_, clip_grad_norm):
        params = [torch.nn.Parameter(torch.zeros(s)) for s in [*shapes, (2,)]]
        for p, gr in zip(params, grads, strict=False):
            p.grad = gr.clone()
        runs.append((fn(params, max_norm), [p.grad for p in params]))
    (n_ref, g_ref), (n, g_new) = runs
    same = dict(rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(n_ref, n, **same)
    assert g_new[-1] is None
    for a, b in zip(g_ref[:-1], g_new[:-1], strict=True):
        torch.testing.assert_close(a, b, **same)
    if nan:
        assert all(bool(x.isnan().all()) for x in g_new[:-1])
    else:
        clipped = float(n_ref) > max_norm
        assert clipped == (max_norm < 1), "the cases cover both regimes"
        assert not clipped or not torch.equal(g_new[0], grads[0])
