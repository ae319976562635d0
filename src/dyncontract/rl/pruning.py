"""Dynamic structured pruning of the denoiser's hidden neurons (the "E" of EDMSAC).

* **What is pruned.** Every hidden neuron of the denoiser MLP (``Denoiser.hidden``). A pruned
  neuron has its incoming weight row and its bias masked to zero with
  ``torch.nn.utils.prune.custom_from_mask`` (parameters become ``weight_orig`` /
  ``bias_orig``, buffers ``weight_mask`` / ``bias_mask``). Its pre-activation is then 0 and
  Mish(0) = 0, so it contributes nothing downstream: masked, not removed, as in the paper.
* **Importance per neuron** (``rl.prune_importance``), always computed from the *unmasked*
  weights ``*_orig`` so a masked neuron keeps a score and can come back:
    - ``magnitude``: ||[W_in[n, :], b[n]]||_2 * ||W_out[:, n]||_2 (incoming x outgoing);
    - ``activation``: running mean of |Mish(W_in[n] h + b[n])| over actor updates;
    - ``gradient``: running mean of |z_n dL/dz_n| (first-order Taylor estimate of the loss
      change when neuron n is removed; z_n its unmasked pre-activation).
* **Schedule.** The pruning ratio follows the cubic schedule of Zhu & Gupta (2017) from 0 at
  ``prune_start_frac`` of training to ``prune_target`` at ``prune_end_frac``, then stays.
  Every layer is pruned by the same ratio (the ``round(ratio * width)`` least important
  neurons, at least one neuron is kept).
* **Dynamic.** Masks are recomputed every ``prune_interval`` actor updates from the current
  scores; masked weights keep their last values in ``weight_orig`` (they receive no gradient
  while masked), so a neuron whose score overtakes a kept one returns. The target actor gets
  a copy of the masks at every recomputation.
* **Deployment.** :func:`compact_actor` slices the kept neurons into a smaller dense actor
  with identical outputs (exact slicing; equivalent to torch-pruning's dependency-graph
  pruning for this plain MLP).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import prune

from dyncontract.rl.diffusion import DiffusionActor


def cubic_ratio(progress: float, target: float, start: float, end: float) -> float:
    """Pruning ratio at training ``progress`` in [0, 1]: 0 before ``start``, ``target`` after
    ``end``, ``target (1 - (1 - x)^3)`` in between, x = (progress - start) / (end - start)."""
    if target <= 0.0 or progress < start:
        return 0.0
    if progress >= end or end <= start:
        return target
    x = (progress - start) / (end - start)
    return target * (1.0 - (1.0 - x) ** 3)


def _out_layer(actor: DiffusionActor, i: int) -> nn.Linear:
    den = actor.denoiser
    return den.hidden[i + 1] if i + 1 < len(den.hidden) else den.out  # type: ignore[return-value]


def _orig(layer: nn.Module, name: str) -> torch.Tensor:
    """The unmasked parameter (``name_orig`` when pruning hooks are attached)."""
    orig = getattr(layer, f"{name}_orig", None)
    return orig if orig is not None else getattr(layer, name)


def _effective(layer: nn.Module, name: str) -> torch.Tensor:
    """orig * mask, computed now (``layer.weight`` is only refreshed by a forward pass)."""
    mask = getattr(layer, f"{name}_mask", None)
    return _orig(layer, name) if mask is None else _orig(layer, name) * mask


def attach_masks(actor: DiffusionActor) -> None:
    """Attach all-ones structured masks to the denoiser's hidden layers (idempotent)."""
    for layer in actor.denoiser.hidden:
        if not prune.is_pruned(layer):
            prune.custom_from_mask(layer, "weight", torch.ones_like(layer.weight))
            prune.custom_from_mask(layer, "bias", torch.ones_like(layer.bias))


def neuron_masks(actor: DiffusionActor) -> list[torch.Tensor]:
    """Current neuron masks, one bool tensor (width,) per hidden layer."""
    out = []
    for layer in actor.denoiser.hidden:
        if prune.is_pruned(layer):
            out.append(layer.bias_mask.bool().clone())
        else:
            out.append(torch.ones(layer.out_features, dtype=torch.bool, device=layer.bias.device))
    return out


def set_neuron_masks(actor: DiffusionActor, masks: list[torch.Tensor]) -> None:
    """Write neuron masks into the prune buffers (attaching them first if needed)."""
    attach_masks(actor)
    with torch.no_grad():
        for layer, m in zip(actor.denoiser.hidden, masks, strict=True):
            mf = m.to(layer.bias_mask.dtype).to(layer.bias_mask.device)
            layer.bias_mask.copy_(mf)
            layer.weight_mask.copy_(mf[:, None].expand_as(layer.weight_mask))


def pruning_ratio(actor: DiffusionActor) -> float:
    """Fraction of masked hidden neurons."""
    masks = neuron_masks(actor)
    total = sum(m.numel() for m in masks)
    return float(sum((~m).sum().item() for m in masks)) / max(total, 1)


class DynamicPruner:
    """Scores neurons, follows the ratio schedule and recomputes masks (see module docs).

    Args:
        actor: the online actor (masks are attached to it).
        targets: actors that must share the masks (the target actor).
        importance: ``magnitude`` | ``activation`` | ``gradient``.
        target_ratio, start, end: the cubic schedule.
        interval: recompute masks every this many calls of :meth:`step`.
        ema: decay of the running activation / gradient scores.
    """

    def __init__(
        self,
        actor: DiffusionActor,
        targets: list[DiffusionActor] | None = None,
        importance: str = "magnitude",
        target_ratio: float = 0.5,
        start: float = 0.05,
        end: float = 0.5,
        interval: int = 200,
        ema: float = 0.99,
    ) -> None:
        if importance not in ("magnitude", "activation", "gradient"):
            raise ValueError(f"prune_importance: unknown {importance!r}")
        self.actor = actor
        self.targets = list(targets or [])
        self.importance = importance
        self.target_ratio, self.start_frac, self.end_frac = target_ratio, start, end
        self.interval = interval
        self.ema = ema
        self.calls = 0
        self.ratio = 0.0
        attach_masks(actor)
        for t in self.targets:
            attach_masks(t)
        dev = actor.denoiser.out.weight.device
        self.scores = [torch.zeros(w, device=dev) for w in actor.denoiser.widths]
        self._batch: list[torch.Tensor] = [
            torch.zeros(w, device=dev) for w in actor.denoiser.widths
        ]
        self._count = 0
        self._hooks: list = []
        self.collecting = False
        if importance != "magnitude":
            for i, layer in enumerate(actor.denoiser.hidden):
                self._hooks.append(layer.register_forward_hook(self._make_hook(i)))

    # ----- running scores ---------------------------------------------------------------------
    def _make_hook(self, i: int):
        def hook(module: nn.Linear, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
            if not self.collecting or not torch.is_grad_enabled():
                return
            x = inputs[0].detach()
            z = torch.nn.functional.linear(x, _orig(module, "weight"), _orig(module, "bias"))
            z = z.detach()
            if self.importance == "activation":
                self._batch[i] += torch.nn.functional.mish(z).abs().mean(0)
            elif output.requires_grad:

                def grad_hook(g: torch.Tensor, z: torch.Tensor = z) -> None:
                    self._batch[i] += (g.detach() * z).abs().mean(0)

                output.register_hook(grad_hook)

        return hook

    def begin_update(self) -> None:
        """Start collecting activation / gradient statistics (one actor update)."""
        self.collecting = self.importance != "magnitude"
        for b in self._batch:
            b.zero_()

    def end_update(self) -> None:
        """Fold the collected statistics into the running scores."""
        if self.collecting:
            for s, b in zip(self.scores, self._batch, strict=True):
                if self._count == 0:
                    s.copy_(b)
                else:
                    s.mul_(self.ema).add_(b, alpha=1.0 - self.ema)
            self._count += 1
        self.collecting = False

    @torch.no_grad()
    def current_scores(self) -> list[torch.Tensor]:
        if self.importance != "magnitude":
            return [s.clone() for s in self.scores]
        out = []
        for i, layer in enumerate(self.actor.denoiser.hidden):
            w = _orig(layer, "weight")
            b = _orig(layer, "bias")
            w_in = torch.sqrt((w**2).sum(1) + b**2)
            w_out = _orig(_out_layer(self.actor, i), "weight").norm(dim=0)
            out.append(w_in * w_out)
        return out

    # ----- schedule ---------------------------------------------------------------------------
    def step(self, progress: float, force: bool = False) -> bool:
        """Called once per actor update. Recomputes masks every ``interval`` calls (or when
        ``force``); returns whether masks were recomputed."""
        self.calls += 1
        if not force and self.calls % self.interval != 0:
            return False
        self.ratio = cubic_ratio(progress, self.target_ratio, self.start_frac, self.end_frac)
        self.apply_ratio(self.ratio)
        return True

    @torch.no_grad()
    def apply_ratio(self, ratio: float) -> None:
        """Mask the ``round(ratio * width)`` least important neurons of every hidden layer."""
        masks = []
        for s in self.current_scores():
            w = s.numel()
            n_prune = min(int(round(ratio * w)), w - 1)
            m = torch.ones(w, dtype=torch.bool, device=s.device)
            if n_prune > 0:
                # stable tie-break by index keeps the choice deterministic
                order = torch.argsort(s, stable=True)
                m[order[:n_prune]] = False
            masks.append(m)
        set_neuron_masks(self.actor, masks)
        for t in self.targets:
            set_neuron_masks(t, masks)

    # ----- checkpointing ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "calls": self.calls,
            "ratio": self.ratio,
            "count": self._count,
            "scores": [s.clone() for s in self.scores],
        }

    def load_state_dict(self, st: dict) -> None:
        self.calls = int(st["calls"])
        self.ratio = float(st["ratio"])
        self._count = int(st["count"])
        for s, v in zip(self.scores, st["scores"], strict=True):
            s.copy_(v)


@torch.no_grad()
def compact_actor(actor: DiffusionActor) -> DiffusionActor:
    """A dense actor without the masked neurons, with the same outputs as the masked one.

    Hidden layer i keeps rows ``keep_i`` of its (masked) weight and bias; the next layer keeps
    the matching columns. Everything else is copied unchanged.
    """
    masks = neuron_masks(actor)
    keep = [torch.nonzero(m).squeeze(1) for m in masks]
    arch = dict(actor.arch)
    arch["widths"] = [int(k.numel()) for k in keep]
    small = DiffusionActor(**arch).to(actor.denoiser.out.weight.device)
    # shared, unpruned parts
    small.time_mlp.load_state_dict(actor.time_mlp.state_dict())
    small.state_enc.load_state_dict(actor.state_enc.state_dict())
    small.log_std_head.load_state_dict(actor.log_std_head.state_dict())
    den, sden = actor.denoiser, small.denoiser
    prev = None
    for i, (layer, slayer) in enumerate(zip(den.hidden, sden.hidden, strict=True)):
        w, b = _effective(layer, "weight"), _effective(layer, "bias")
        w = w[keep[i]]
        if prev is not None:
            w = w[:, prev]
        slayer.weight.copy_(w)
        slayer.bias.copy_(b[keep[i]])
        prev = keep[i]
    ow = den.out.weight if prev is None else den.out.weight[:, prev]
    sden.out.weight.copy_(ow)
    sden.out.bias.copy_(den.out.bias)
    return small
