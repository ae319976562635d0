"""Dynamic structured pruning: schedule, masks, returning neurons, compaction == masking,
kept-neurons-only computation == masked dense computation, live scores, churn."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from helpers import tiny_rl_config
from torch.nn.utils import prune

from dyncontract.rl.buffer import Batch
from dyncontract.rl.config import RLConfig
from dyncontract.rl.diffusion import DiffusionActor
from dyncontract.rl.edmsac import EDMSAC
from dyncontract.rl.pruning import (
    DynamicPruner,
    compact_actor,
    cubic_ratio,
    deployment_pruning,
    neuron_masks,
    pruning_ratio,
    set_neuron_masks,
    strip_masks,
)


def _actor(widths=(48, 48, 48), seed: int = 0) -> DiffusionActor:
    torch.manual_seed(seed)
    return DiffusionActor(5, 4, n_steps=5, widths=list(widths), time_dim=8, state_dim=12)


def _obs(n: int = 200) -> torch.Tensor:
    return torch.rand(n, 5, generator=torch.Generator().manual_seed(3)) * 2 - 1


def _dense_params(layer: torch.nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """orig * mask (the masked dense layer), or the plain parameters."""
    if prune.is_pruned(layer):
        return layer.weight_orig * layer.weight_mask, layer.bias_orig * layer.bias_mask
    return layer.weight, layer.bias


def _reference_bind(den, record: list | None = None, gates: list | None = None):
    """The masked dense denoiser, written out independently of ``Denoiser``: concatenate
    [x, t, s] at every step and apply every hidden layer with orig * mask weights. With
    ``gates`` (a list), each hidden layer's output is multiplied by a per-row gate equal to
    its neuron mask, made a leaf requiring grad and appended to ``gates``; ``record`` gets the
    unmasked pre-activations (from ``*_orig``) of every hidden layer."""

    def bind(t_all, s_emb):
        def eps(x, i):
            h = torch.cat([x, t_all[i].expand(x.shape[0], -1), s_emb], -1)
            for layer in den.hidden:
                w, b = _dense_params(layer)
                z = F.linear(h, w, b)
                if gates is None:
                    h = F.mish(z)
                    continue
                w_o = getattr(layer, "weight_orig", layer.weight)
                b_o = getattr(layer, "bias_orig", layer.bias)
                z_o = F.linear(h, w_o, b_o)
                m = getattr(layer, "bias_mask", torch.ones_like(b_o))
                gate = m.expand(x.shape[0], -1).clone().requires_grad_(True)
                gates.append(gate)
                record.append((z_o.detach(), z))
                z.retain_grad()
                # kept: gate * Mish(z); masked: Mish(z) (== Mish(0) == 0, the masked dense
                # output) + gate * Mish(unmasked z), gate == 0 (the value is unchanged)
                a = F.mish(z)
                h = torch.where(m.bool(), gate * a, a + gate * F.mish(z_o))
            return F.linear(h, den.out.weight, den.out.bias)

        return eps

    return bind


def test_cubic_schedule():
    assert cubic_ratio(0.0, 0.5, 0.1, 0.6) == 0.0
    assert cubic_ratio(0.1, 0.5, 0.1, 0.6) == 0.0
    assert cubic_ratio(0.6, 0.5, 0.1, 0.6) == 0.5
    assert cubic_ratio(1.0, 0.5, 0.1, 0.6) == 0.5
    mid = cubic_ratio(0.35, 0.5, 0.1, 0.6)
    assert mid == pytest.approx(0.5 * (1 - 0.5**3))
    xs = [cubic_ratio(p / 100, 0.5, 0.1, 0.6) for p in range(101)]
    assert all(b >= a for a, b in zip(xs, xs[1:], strict=False))  # non-decreasing
    assert cubic_ratio(0.9, 0.0, 0.1, 0.6) == 0.0


def test_masks_are_torch_prune_masks_and_zero_the_neurons():
    actor = _actor()
    target = _actor(seed=1)
    pr = DynamicPruner(actor, targets=[target], target_ratio=0.5, start=0.0, end=0.0)
    pr.apply_ratio(0.5)
    for layer in actor.denoiser.hidden:
        assert prune.is_pruned(layer)
        assert hasattr(layer, "weight_orig") and hasattr(layer, "weight_mask")
    masks = neuron_masks(actor)
    assert [int(m.sum()) for m in masks] == [24, 24, 24]
    assert pruning_ratio(actor) == pytest.approx(0.5)
    # the target actor carries the same masks
    for m, mt in zip(masks, neuron_masks(target), strict=True):
        assert torch.equal(m, mt)
    # masked neurons output exactly zero in the masked dense network (computed by hand)
    obs = _obs()
    den = actor.denoiser
    s_emb = actor.state_enc(obs)
    t_emb = actor.time_mlp(torch.arange(5))[4].expand(len(obs), -1)
    h = torch.cat([torch.zeros(len(obs), 4), t_emb, s_emb], -1)
    for layer, m in zip(den.hidden, masks, strict=True):
        h = F.mish(F.linear(h, *_dense_params(layer)))
        assert torch.all(h[:, ~m] == 0)
        assert torch.any(h[:, m] != 0)
    # ... and the kept-neurons-only denoiser gives that network's eps
    assert torch.allclose(den(torch.zeros(len(obs), 4), t_emb, s_emb), den.out(h), atol=1e-6)


@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.5, 0.75])
def test_compaction_equals_masking(ratio):
    actor = _actor()
    pr = DynamicPruner(actor, target_ratio=ratio)
    pr.apply_ratio(ratio)
    small = compact_actor(actor)
    w = 48 - int(round(ratio * 48))
    assert small.denoiser.widths == [w, w, w]
    n_small = sum(p.numel() for p in small.denoiser.parameters())
    n_big = sum(
        p.numel() for n, p in actor.denoiser.named_parameters() if "orig" in n or "out" in n
    )
    assert n_small <= n_big
    obs = _obs()
    for mode in ("deterministic", "sample", "mean"):
        a = actor.act(obs, torch.Generator().manual_seed(5), mode=mode)
        b = small.act(obs, torch.Generator().manual_seed(5), mode=mode)
        assert (a - b).abs().max().item() <= 1e-5, mode
    # and a compact actor is an ordinary dense module (no pruning hooks)
    assert not any(prune.is_pruned(m) for m in small.denoiser.hidden)


def test_compaction_matches_after_random_masks_and_training_updates():
    torch.manual_seed(0)
    cfg = RLConfig(
        actor_hidden=32,
        actor_layers=3,
        critic_hidden=32,
        critic_layers=1,
        state_embed_dim=8,
        prune_interval=1,
        prune_start_frac=0.0,
        prune_end_frac=0.0,
    )
    ag = EDMSAC(cfg, 5, 4)
    g = torch.Generator().manual_seed(0)
    obs = _obs(64)
    b = Batch(obs, torch.rand(64, 4) * 2 - 1, torch.rand(64), obs, torch.ones(64))
    for _ in range(5):
        ag.update(b, g, progress=1.0)
    assert ag.prune_ratio() == pytest.approx(0.5)
    small = compact_actor(ag.actor)
    a = ag.actor.act(obs, None, mode="deterministic")
    s = small.act(obs, None, mode="deterministic")
    assert (a - s).abs().max().item() <= 1e-5
    # target actor masks follow the online actor
    for m, mt in zip(neuron_masks(ag.actor), neuron_masks(ag.actor_target), strict=True):
        assert torch.equal(m, mt)


def test_masked_neuron_can_return():
    actor = _actor()
    pr = DynamicPruner(actor, target_ratio=0.5, importance="magnitude")
    pr.apply_ratio(0.5)
    layer = actor.denoiser.hidden[1]
    dead = int(torch.nonzero(~neuron_masks(actor)[1])[0])
    with torch.no_grad():  # make the masked neuron the most important one
        layer.weight_orig[dead] *= 100.0
    pr.apply_ratio(0.5)
    assert bool(neuron_masks(actor)[1][dead])
    assert pruning_ratio(actor) == pytest.approx(0.5)


@pytest.mark.parametrize("importance", ["activation", "gradient"])
def test_data_driven_importance(importance):
    torch.manual_seed(0)
    cfg = tiny_rl_config(
        prune_importance=importance,
        prune_interval=3,
        prune_start_frac=0.0,
        prune_end_frac=0.0,
    )
    ag = EDMSAC(cfg, 5, 4)
    obs = _obs(64)
    b = Batch(obs, torch.rand(64, 4) * 2 - 1, torch.rand(64), obs, torch.ones(64))
    g = torch.Generator().manual_seed(0)
    for _ in range(6):
        ag.update(b, g, progress=1.0)
    assert ag.pruner is not None
    scores = ag.pruner.current_scores()
    assert all(float(s.abs().sum()) > 0 for s in scores)
    assert ag.prune_ratio() == pytest.approx(0.5)
    # masked neurons keep a score (computed from the unmasked weights), so they can return
    masks = neuron_masks(ag.actor)
    assert any(float(s[~m].sum()) > 0 for s, m in zip(scores, masks, strict=True))


def test_set_masks_roundtrip_and_dmsac_has_no_pruner():
    actor = _actor()
    masks = [torch.rand(48) > 0.5 for _ in range(3)]
    set_neuron_masks(actor, masks)
    for a, b in zip(neuron_masks(actor), masks, strict=True):
        assert torch.equal(a, b)
    ag = EDMSAC(RLConfig(algo="dmsac", actor_hidden=16, critic_hidden=16), 5, 4)
    assert ag.pruner is None and ag.prune_ratio() == 0.0


def _random_masks(widths, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for w in widths:
        m = torch.rand(w, generator=g) > 0.5
        m[int(torch.randint(w, (1,), generator=g))] = True  # at least one neuron kept
        out.append(m)
    return out


def _actor_loss(actor: DiffusionActor, obs: torch.Tensor) -> torch.Tensor:
    out = actor(obs, torch.Generator().manual_seed(11), mode="sample")
    return (out.action**2).sum() + out.log_prob.sum() + (out.raw_mean**3).sum()


@pytest.mark.parametrize("masks_seed", [None, 0, 1, 2])
def test_kept_neurons_only_equals_masked_dense(masks_seed, monkeypatch):
    """Outputs and every parameter gradient of the sliced computation equal the masked dense
    network's (masked rows/columns of *_orig get exactly zero gradient in both)."""
    actor = _actor(widths=(24, 20, 16))
    if masks_seed is not None:
        set_neuron_masks(actor, _random_masks((24, 20, 16), masks_seed))
        assert 0 < pruning_ratio(actor) < 1
    obs = _obs(16)
    for mode in ("deterministic", "sample", "mean"):
        a = actor.act(obs, torch.Generator().manual_seed(5), mode=mode)
        with monkeypatch.context() as mp:
            mp.setattr(actor.denoiser, "bind", _reference_bind(actor.denoiser))
            b = actor.act(obs, torch.Generator().manual_seed(5), mode=mode)
        assert torch.allclose(a, b, atol=1e-5), mode
    params = dict(actor.named_parameters())
    grads_fast = torch.autograd.grad(_actor_loss(actor, obs), list(params.values()))
    with monkeypatch.context() as mp:
        mp.setattr(actor.denoiser, "bind", _reference_bind(actor.denoiser))
        grads_ref = torch.autograd.grad(_actor_loss(actor, obs), list(params.values()))
    for name, gf, gr in zip(params, grads_fast, grads_ref, strict=True):
        scale = gr.abs().max().clamp(min=1.0)
        assert torch.allclose(gf, gr, atol=2e-5 * scale, rtol=1e-4), name
    if masks_seed is not None:  # masked neurons: zero gradient on their rows / columns
        masks = neuron_masks(actor)
        den = actor.denoiser
        g = dict(zip(params, grads_fast, strict=True))
        for i, m in enumerate(masks):
            assert torch.all(g[f"denoiser.hidden.{i}.weight_orig"][~m] == 0)
            assert torch.all(g[f"denoiser.hidden.{i}.bias_orig"][~m] == 0)
            nxt = (
                f"denoiser.hidden.{i + 1}.weight_orig"
                if i + 1 < len(masks)
                else "denoiser.out.weight"
            )
            assert torch.all(g[nxt][:, ~m] == 0)
        assert den.keep_indices()[0] is not None


@pytest.mark.parametrize("importance", ["taylor", "activation", "gradient"])
def test_probe_scores_equal_gate_computation(importance, monkeypatch):
    """Scores of kept and masked neurons from the probe == an independent autograd
    computation on the dense network with explicit per-row gates at the mask values."""
    actor = _actor(widths=(24, 20, 16))
    masks = _random_masks((24, 20, 16), 3)
    set_neuron_masks(actor, masks)
    pr = DynamicPruner(actor, importance=importance)
    obs = _obs(16)
    pr.begin_update()
    _actor_loss(actor, obs).backward()
    got = pr.probe_scores(actor.denoiser.probe)
    pr.end_update()
    assert actor.denoiser.probe is None
    for s, g in zip(pr.scores, got, strict=True):  # first record: the running score
        assert torch.equal(s, g)
    # reference
    record: list = []
    gates: list = []
    with monkeypatch.context() as mp:
        mp.setattr(actor.denoiser, "bind", _reference_bind(actor.denoiser, record, gates))
        _actor_loss(actor, obs).backward()
    n_layers = 3
    for i in range(n_layers):
        gate_g = torch.cat([gt.grad for gt in gates[i::n_layers]])  # a * dL/da per row
        z_o = torch.cat([r[0] for r in record[i::n_layers]])
        dz = torch.cat([r[1].grad for r in record[i::n_layers]])  # dL/dz of masked dense z
        if importance == "taylor":
            want = gate_g.abs().mean(0)
        elif importance == "activation":
            want = F.mish(z_o).abs().mean(0)
        else:
            want = (z_o * dz).abs().mean(0)
        assert torch.allclose(got[i], want, rtol=1e-4, atol=1e-7), (i, got[i], want)
        assert float(want[~masks[i]].sum()) > 0  # masked neurons have a live score


def test_masks_move_in_ordinary_training():
    """Seeded toy-bandit training with the default (taylor) importance: after the ratio has
    reached its target, recomputations still revive and mask neurons (no forcing)."""
    from test_rl_bandit import ToyBandit

    torch.manual_seed(0)
    cfg = tiny_rl_config(
        actor_hidden=32,
        actor_layers=2,
        prune_interval=10,
        prune_start_frac=0.0,
        prune_end_frac=0.3,
        actor_lr=3e-3,
        critic_lr=3e-3,
    )
    assert cfg.prune_importance == "taylor"
    env = ToyBandit()
    ag = EDMSAC(cfg, env.obs_dim, env.act_dim, group=1)
    g = torch.Generator().manual_seed(0)
    n_updates = 400
    at_target = None
    for k in range(n_updates):
        obs = env.sample_states(64, g)
        act = ag.act(obs, g, mode="sample")
        rew = env.step(obs, act)["reward"]
        ag.update(Batch(obs, act, rew, obs, torch.ones(64)), g, progress=k / n_updates)
        if at_target is None and k / n_updates >= 0.3 and ag.pruner.recomputations > 0:
            assert ag.prune_ratio() == pytest.approx(0.5)
            at_target = dict(ag.pruner.churn_total)
    assert at_target is not None
    revived = ag.pruner.churn_total["revived"] - at_target["revived"]
    masked = ag.pruner.churn_total["newly_masked"] - at_target["newly_masked"]
    assert ag.prune_ratio() == pytest.approx(0.5)
    assert revived > 0 and revived == masked  # the ratio is constant: every return swaps
    assert ag.pruner.take_churn() == sum(ag.pruner.churn_total.values())
    assert ag.pruner.take_churn() == 0


def test_churn_counts_and_deployment_report():
    actor = _actor()
    pr = DynamicPruner(actor, importance="magnitude")
    rep = deployment_pruning(actor, pr.state_dict())
    assert rep["ever_pruned"] is False and rep["pruning_ratio"] == 0.0
    assert "never pruned" in rep["note"] and "no mask was ever computed" in rep["note"]
    pr.apply_ratio(0.0)
    rep = deployment_pruning(actor, pr.state_dict())
    assert rep["ever_pruned"] is False and "ratio 0" in rep["note"]
    old = neuron_masks(actor)
    pr.apply_ratio(0.5)
    assert pr.last_churn == {"revived": 0, "newly_masked": 72}
    # the first layer's incoming weights only enter its own magnitude scores
    layer = actor.denoiser.hidden[0]
    dead = int(torch.nonzero(~neuron_masks(actor)[0])[0])
    with torch.no_grad():
        layer.weight_orig[dead] *= 100.0
    pr.apply_ratio(0.5)
    assert pr.last_churn == {"revived": 1, "newly_masked": 1}
    assert pr.churn_total == {"revived": 1, "newly_masked": 73}
    assert pr.take_churn() == 74 and pr.take_churn() == 0
    rep = deployment_pruning(actor, pr.state_dict())
    assert rep["ever_pruned"] is True and rep["pruning_ratio"] == pytest.approx(0.5)
    assert rep["hidden_widths"] == {"dense": [48, 48, 48], "compact": [24, 24, 24]}
    assert all(bool(m.all()) for m in old)
    # state round trip
    pr2 = DynamicPruner(_actor(), importance="magnitude")
    pr2.load_state_dict(pr.state_dict())
    assert pr2.churn_total == pr.churn_total and pr2.recomputations == 3
    assert pr2.max_ratio == pytest.approx(0.5)


def test_strip_masks_is_the_full_width_network_and_actor_deepcopies():
    import copy

    actor = _actor(widths=(24, 20, 16))
    set_neuron_masks(actor, _random_masks((24, 20, 16), 4))
    dense = strip_masks(actor)
    assert not any(prune.is_pruned(m) for m in dense.denoiser.hidden)
    assert all(k is None for k in dense.denoiser.keep_indices())  # every neuron computed
    obs = _obs(32)
    for mode in ("deterministic", "sample"):
        a = actor.act(obs, torch.Generator().manual_seed(2), mode=mode)
        b = dense.act(obs, torch.Generator().manual_seed(2), mode=mode)
        assert torch.allclose(a, b, atol=1e-5), mode
    twin = copy.deepcopy(actor)  # no non-leaf tensors left on the modules
    assert torch.equal(twin.act(obs, None), actor.act(obs, None))


def test_fast_mish_equals_aten_mish():
    from dyncontract.rl.networks import FAST_MISH_MIN_NUMEL, _MishFn, mish

    x = torch.cat([torch.linspace(-100, 100, 4001), torch.randn(FAST_MISH_MIN_NUMEL) * 4])
    x = x.requires_grad_(True)
    g = torch.randn(x.shape)
    y = mish(x)
    assert y.grad_fn is not None and "MishFn" in type(y.grad_fn).__name__  # the fast path
    (gx,) = torch.autograd.grad(y, x, g)
    (gr,) = torch.autograd.grad(F.mish(x), x, g)
    assert torch.allclose(y, F.mish(x), rtol=1e-5, atol=1e-6)
    assert torch.allclose(gx, gr, rtol=1e-4, atol=1e-5)
    assert torch.isfinite(gx).all()
    x64 = (torch.randn(40, dtype=torch.float64) * 5).requires_grad_(True)
    assert torch.autograd.gradcheck(_MishFn.apply, (x64,))


def test_mish_grad_equals_autograd_of_aten_mish():
    """The probe's one-exp Mish derivative against autograd through ATen's Mish."""
    from dyncontract.rl.networks import mish_grad

    x = torch.cat([torch.linspace(-100, 100, 4001), torch.randn(5000) * 4]).requires_grad_(True)
    (ref,) = torch.autograd.grad(F.mish(x).sum(), x)
    got = mish_grad(x.detach())
    assert torch.isfinite(got).all()
    assert torch.allclose(got, ref, rtol=1e-4, atol=1e-5)


def _bandit_agents(**upd):
    """Two identically initialised toy-bandit EDMSACs: kept neurons trained as a compact copy
    (``prune_compact``) and sliced out of the full weights at every chain."""
    from test_rl_bandit import ToyBandit

    env = ToyBandit()
    cfg = tiny_rl_config(**{"actor_hidden": 32, "actor_layers": 2, "prune_interval": 10**6, **upd})
    agents = []
    for compact in (True, False):
        torch.manual_seed(0)
        c = cfg.model_copy(update={"prune_compact": compact})
        ag = EDMSAC(c, env.obs_dim, env.act_dim, group=1)
        ag.pruner.apply_ratio(0.5)  # before any update: no Adam moments yet
        agents.append(ag)
    assert agents[0].pruner.compact.active and agents[1].pruner.compact is None
    return env, agents


def _train(env, ag, n: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        obs = env.sample_states(64, g)
        act = torch.rand(64, env.act_dim, generator=g) * 2 - 1
        rew = env.step(obs, act)["reward"]
        ag.update(Batch(obs, act, rew, obs, torch.ones(64)), g, progress=0.6)


def test_compact_training_equals_sliced_training():
    """Fixed masks, no Adam moments before them: training the compact copy gives the same
    weights as training through slices of the full tensors (an independent computation), and
    the full tensors' masked rows / columns do not move."""
    env, (fast, ref) = _bandit_agents()
    before = {k: v.clone() for k, v in fast.actor.state_dict().items()}
    for ag in (fast, ref):
        _train(env, ag, 30, seed=1)
    sa, sb = fast.actor.state_dict(), ref.actor.state_dict()  # state_dict syncs the copy
    for k in sb:
        assert torch.allclose(sa[k], sb[k], atol=1e-5, rtol=1e-4), k
    changed = [k for k in sb if k.endswith("_orig") and not torch.equal(sa[k], before[k])]
    assert changed  # the kept weights trained
    for i, m in enumerate(neuron_masks(fast.actor)):
        k = f"denoiser.hidden.{i}"
        assert torch.equal(sa[f"{k}.weight_orig"][~m], before[f"{k}.weight_orig"][~m])
        assert torch.equal(sa[f"{k}.bias_orig"][~m], before[f"{k}.bias_orig"][~m])
    obs = env.sample_states(32, torch.Generator().manual_seed(9))
    a = fast.act(obs, torch.Generator().manual_seed(2), mode="deterministic")
    b = ref.act(obs, torch.Generator().manual_seed(2), mode="deterministic")
    assert torch.allclose(a, b, atol=1e-5)


def test_compact_training_survives_checkpoint_and_mask_changes():
    """A checkpoint taken while the compact copy trains (values and Adam moments written
    back, then rebuilt) resumes bit for bit, also across mask recomputations."""
    env, (ag, _) = _bandit_agents(prune_interval=7)
    _, (straight, _) = _bandit_agents(prune_interval=7)
    for a in (ag, straight):
        _train(env, a, 20, seed=1)  # two recomputations: the copy was rebuilt twice
    assert ag.pruner.recomputations >= 3 and ag.pruner.compact.active
    st = copy.deepcopy(ag.training_state())  # as through a file: no shared moment tensors
    assert ag.pruner.compact.active
    assert len(st["actor_opt"]["param_groups"]) == 1  # the full parameters only
    torch.manual_seed(123)
    other = EDMSAC(ag.cfg, env.obs_dim, env.act_dim, group=1)
    other.load_training_state(st)
    assert other.pruner.compact.active
    for a in (ag, other, straight):
        _train(env, a, 20, seed=2)
    sa, sb = straight.actor.state_dict(), other.actor.state_dict()  # never checkpointed
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    # compaction for deployment reads the trained copy
    small = compact_actor(ag.actor)
    obs = env.sample_states(16, torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(5)
    a, b = ag.act(obs, g, "deterministic"), small.act(obs, g, "deterministic")
    assert torch.allclose(a, b, atol=1e-5)


def test_sample_inputs_then_sample_from_is_the_forward_sample():
    """The split that rl.compile_chain compiles (noises and kept weights drawn eagerly, then
    the chain, last step and loss) takes the same sample as ``forward(obs, g, "sample")`` from
    the same generator state: the compact copy, the slices of the full weights and an
    unpruned actor, each compared with its own forward pass."""
    env, agents = _bandit_agents()
    dense = agents[0].cfg.model_copy(update={"algo": "dmsac"})
    agents.append(EDMSAC(dense, env.obs_dim, env.act_dim, group=1))
    assert agents[-1].pruner is None
    obs = env.sample_states(16, torch.Generator().manual_seed(5))
    for ag in agents:
        g_ref = torch.Generator().manual_seed(4)
        ref = ag.actor(obs, g_ref, mode="sample")
        g = torch.Generator().manual_seed(4)
        out = ag.actor.sample_from(obs, ag.actor.sample_inputs(obs, g))
        for name in ("action", "log_prob", "mean", "raw_mean"):
            assert torch.equal(getattr(out, name), getattr(ref, name)), name
        assert torch.equal(g.get_state(), g_ref.get_state())  # no draw more, none fewer
