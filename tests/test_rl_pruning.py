"""Dynamic structured pruning: schedule, masks, returning neurons, compaction == masking."""

from __future__ import annotations

import pytest
import torch
from helpers import tiny_rl_config
from torch.nn.utils import prune

from dyncontract.rl.config import RLConfig
from dyncontract.rl.diffusion import DiffusionActor
from dyncontract.rl.edmsac import EDMSAC, Batch
from dyncontract.rl.pruning import (
    DynamicPruner,
    compact_actor,
    cubic_ratio,
    neuron_masks,
    pruning_ratio,
    set_neuron_masks,
)


def _actor(widths=(48, 48, 48), seed: int = 0) -> DiffusionActor:
    torch.manual_seed(seed)
    return DiffusionActor(5, 4, n_steps=5, widths=list(widths), time_dim=8, state_dim=12)


def _obs(n: int = 200) -> torch.Tensor:
    return torch.rand(n, 5, generator=torch.Generator().manual_seed(3)) * 2 - 1


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
    # masked neurons output exactly zero
    acts = []
    hooks = [
        layer.register_forward_hook(lambda mod, i, o: acts.append(o.detach()))
        for layer in actor.denoiser.hidden
    ]
    actor.act(_obs(), None, mode="deterministic")
    for h in hooks:
        h.remove()
    for j, m in enumerate(masks):
        assert torch.all(acts[j][:, ~m] == 0)
        assert torch.any(acts[j][:, m] != 0)


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
