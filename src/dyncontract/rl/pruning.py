"""Dynamic structured pruning of the denoiser's hidden neurons (the "E" of EDMSAC).

* **What is pruned.** Every hidden neuron of the denoiser MLP (``Denoiser.hidden``). A pruned
  neuron has its incoming weight row and its bias masked with
  ``torch.nn.utils.prune.custom_from_mask`` (parameters become ``weight_orig`` /
  ``bias_orig``, buffers ``weight_mask`` / ``bias_mask``): masked, not removed, as in the
  paper — its weights are kept and it can come back.
* **Computed on the kept neurons only.** The denoiser does not call the prune hooks: once
  per reverse chain it slices the kept rows (and the next layer's kept columns) out of the
  ``*_orig`` parameters and runs all denoising steps, forward and backward, on the smaller
  matrices (:meth:`dyncontract.rl.diffusion.Denoiser.bind`). A masked neuron outputs
  Mish(0) = 0 in the masked dense network, so outputs and the gradients of all kept weights
  are those of the masked dense computation, and masked rows / columns get exactly zero
  gradient, as before (``test_kept_neurons_only_equals_masked_dense``). The optimiser
  still holds the full ``*_orig`` tensors (masked weights keep their values; Adam's
  momentum from before the masking still decays into them, exactly as with the masked dense
  network). The index plan follows the mask buffers (rebuilt when they change).
* **Importance per neuron** (``rl.prune_importance``). Every criterion scores masked
  neurons too, from their *unmasked* weights, so a masked neuron keeps a live score:
    - ``taylor`` (default): running mean of |a_n * dL/da_n|, the first-order Taylor
      estimate of the actor-loss change when a gate on neuron n's output is switched
      (1 -> 0 for a kept neuron: the loss increase of removing it; 0 -> 1 for a masked one:
      the loss decrease of bringing it back). a_n = Mish(z_n) with z_n the neuron's
      unmasked pre-activation on the layer's actual input; dL/da_n is the next layer's
      pre-activation gradient times the next layer's unmasked column n (exact for kept
      neurons; for a masked one, the gradient its gate receives at 0). Both move with the
      data, the critic and the rest of the network, so masks keep changing after the
      ratio has reached its target (``test_masks_move_in_ordinary_training``);
    - ``magnitude``: ||[W_in[n, :], b[n]]||_2 * ||W_out[:, n]||_2 (incoming x outgoing). A
      masked neuron's weights get no gradient, so its score is frozen: with this criterion
      masks hardly move once the ratio plateaus (why ``taylor`` is the default);
    - ``activation``: running mean of |a_n|;
    - ``gradient``: running mean of |z_n dL/dz_n| (z_n unmasked; for a masked neuron
      dL/dz_n is the gradient at its actual pre-activation 0: Mish'(0) dL/da_n).
  The data-driven scores come from a *probe* of the actor update: every ``probe_every``-th
  update (default 16, ``rl.prune_probe_every``) the denoiser records each step's kept
  pre-activations and, by tensor hooks, the loss gradients at the kept activations and at
  eps; after the backward pass :meth:`DynamicPruner.probe_scores` computes the masked
  neurons' pre-activations and output gradients with two small matrix products per layer
  (no dense forward), and the scores enter an exponential running mean (memory
  ~ 1 / (1 - ``ema``) actor updates). Before anything was recorded the magnitude score is
  used. Tested against an independent autograd computation with explicit per-row gates on
  the dense network (``test_probe_scores_equal_gate_computation``).
* **Schedule.** The pruning ratio follows the cubic schedule of Zhu & Gupta (2017) from 0 at
  ``prune_start_frac`` of training to ``prune_target`` at ``prune_end_frac``, then stays.
  Every layer is pruned by the same ratio (the ``round(ratio * width)`` least important
  neurons, at least one neuron is kept).
* **Dynamic.** Masks are recomputed every ``prune_interval`` actor updates from the current
  scores; the target actor gets a copy of the masks. Each recomputation records its churn:
  ``last_churn`` (``revived``, ``newly_masked``), ``churn_total`` and :meth:`take_churn`
  (revived + newly masked since the last metrics row: the ``mask_churn`` column).
* **Compact training.** Between recomputations the kept neurons can train as a compact
  dense copy (:class:`CompactTraining`, ``rl.prune_compact``): the same function and
  gradients as the slicing, without a gather per chain, a scatter into full-size gradients
  or an optimiser step over the masked weights; masked weights and their Adam moments are
  frozen while masked and written back / rebuilt at every recomputation and checkpoint.
* **Deployment.** :func:`compact_actor` slices the kept neurons into a smaller dense actor
  with identical outputs; :func:`deployment_pruning` says what pruning the deployed actor
  actually got (ratio reached, whether a mask was ever computed) for ``evaluate``.
  ``torch-pruning`` is not used (the slicing is exact for this plain MLP).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import prune

from dyncontract.rl.diffusion import DiffusionActor
from dyncontract.rl.networks import mish, mish_grad


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


def _refresh_plain(layer: nn.Module) -> None:
    """``layer.weight`` / ``layer.bias`` of a pruned layer are plain attributes that only the
    prune forward hook refreshes; the denoiser never calls it (it reads ``*_orig`` and the
    masks), so keep them as detached ``orig * mask`` of the last mask change (a non-leaf
    left there would also break ``copy.deepcopy`` of the actor)."""
    with torch.no_grad():
        for name in ("weight", "bias"):
            setattr(layer, name, _effective(layer, name).detach())


def attach_masks(actor: DiffusionActor) -> None:
    """Attach all-ones structured masks to the denoiser's hidden layers (idempotent)."""
    for layer in actor.denoiser.hidden:
        if not prune.is_pruned(layer):
            prune.custom_from_mask(layer, "weight", torch.ones_like(layer.weight))
            prune.custom_from_mask(layer, "bias", torch.ones_like(layer.bias))
            _refresh_plain(layer)


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
            _refresh_plain(layer)


def pruning_ratio(actor: DiffusionActor) -> float:
    """Fraction of masked hidden neurons."""
    masks = neuron_masks(actor)
    total = sum(m.numel() for m in masks)
    return float(sum((~m).sum().item() for m in masks)) / max(total, 1)


class CompactTraining:
    """Train the kept neurons as a compact dense copy between mask recomputations.

    :meth:`acquire` (after the masks changed) asks the denoiser for a compact copy of its kept
    neurons (:meth:`~dyncontract.rl.diffusion.Denoiser.make_compact`) and hands the copy to
    the optimiser as an extra parameter group, with Adam's moments and step sliced from the
    full tensors' state. Forward and backward then run on the smaller tensors only: no
    slicing per chain, no gradient scattered into full-size zero tensors, and the optimiser
    and the gradient clipping touch the kept weights only (the full tensors of the sliced
    layers get no gradient, so Adam skips them). :meth:`release` (before the masks change and
    before a checkpoint) writes the copy's values and moments back into the full tensors and
    removes the group. While a neuron is masked its weights and their Adam moments are frozen
    (the sliced computation instead let pre-masking momentum keep moving them); it can come
    back at any recomputation with the weights it had.
    """

    def __init__(self, actor: DiffusionActor, optimizer: torch.optim.Optimizer) -> None:
        self.actor, self.opt = actor, optimizer
        self._group: dict | None = None

    @property
    def active(self) -> bool:
        return self._group is not None

    @torch.no_grad()
    def acquire(self) -> None:
        """Start training the current kept neurons as a compact copy (no-op if none masked)."""
        self.release()
        self.actor.denoiser.make_compact()
        slots = self.actor.denoiser.compact_slots
        if not slots:
            return
        for slot in slots:
            st = self.opt.state.get(slot.full)
            if st:
                self.opt.state[slot.compact] = {
                    k: (slot.gather(v).clone() if k.startswith("exp_avg") else v.clone())
                    for k, v in st.items()
                }
        base = {k: v for k, v in self.opt.param_groups[0].items() if k != "params"}
        self.opt.add_param_group({**base, "params": [slot.compact for slot in slots]})
        self._group = self.opt.param_groups[-1]

    @torch.no_grad()
    def release(self) -> None:
        """Write the compact copy (values and Adam state) back and drop its parameter group."""
        if self._group is None:
            return
        for slot in self.actor.denoiser.compact_slots:
            st = self.opt.state.pop(slot.compact, None)
            if not st:
                continue
            full = self.opt.state.setdefault(slot.full, {})
            for k, v in st.items():
                if k.startswith("exp_avg"):
                    if k not in full:
                        full[k] = torch.zeros_like(slot.full)
                    slot.scatter(v, full[k])
                else:  # the step count: the kept weights' (the masked ones were frozen)
                    full[k] = v.clone()
        self.opt.param_groups.remove(self._group)
        self._group = None
        self.actor.denoiser.drop_compact()


MISH_GRAD_0 = math.tanh(math.log(2.0))  # Mish'(0)

#: importance criteria computed from the probe of an actor update (all but ``magnitude``)
DATA_DRIVEN = ("taylor", "activation", "gradient")


class DynamicPruner:
    """Scores neurons, follows the ratio schedule and recomputes masks (see module docs).

    Args:
        actor: the online actor (masks are attached to it).
        targets: actors that must share the masks (the target actor).
        importance: ``taylor`` | ``magnitude`` | ``activation`` | ``gradient``.
        target_ratio, start, end: the cubic schedule.
        interval: recompute masks every this many calls of :meth:`step`.
        ema: decay of the running (data-driven) scores per actor update (a recorded update
            enters with weight 1 - ema**probe_every, so the memory in updates does not
            depend on ``probe_every``).
        probe_every: data-driven scores: record every this many actor updates.

    After every recomputation ``last_churn`` holds ``{"revived": r, "newly_masked": m}``
    (neurons of all layers that came back / were masked by it); ``churn_total`` counts both
    since the start, :meth:`take_churn` since its previous call (a metrics row).
    """

    def __init__(
        self,
        actor: DiffusionActor,
        targets: list[DiffusionActor] | None = None,
        importance: str = "taylor",
        target_ratio: float = 0.5,
        start: float = 0.05,
        end: float = 0.5,
        interval: int = 200,
        ema: float = 0.99,
        probe_every: int = 16,
    ) -> None:
        if importance not in ("magnitude", *DATA_DRIVEN):
            raise ValueError(f"prune_importance: unknown {importance!r}")
        self.actor = actor
        self.targets = list(targets or [])
        self.importance = importance
        self.target_ratio, self.start_frac, self.end_frac = target_ratio, start, end
        self.interval = interval
        self.ema = ema
        self.probe_every = max(1, int(probe_every))
        #: set by the learner to train the kept neurons as a compact copy (CompactTraining)
        self.compact: CompactTraining | None = None
        self.calls = 0
        self.ratio = 0.0
        #: mask recomputations so far, and the largest fraction of neurons ever masked
        self.recomputations = 0
        self.max_ratio = 0.0
        self.last_churn = {"revived": 0, "newly_masked": 0}
        self.churn_total = {"revived": 0, "newly_masked": 0}
        self._churn_window = 0
        attach_masks(actor)
        for t in self.targets:
            attach_masks(t)
        dev = actor.denoiser.out.weight.device
        self.scores = [torch.zeros(w, device=dev) for w in actor.denoiser.widths]
        self._count = 0
        self._updates = 0

    # ----- running scores ---------------------------------------------------------------------
    @property
    def collecting(self) -> bool:
        return self.actor.denoiser.probe is not None

    def begin_update(self) -> None:
        """Start recording one actor update (data-driven importance, every probe_every-th)."""
        due = self._updates % self.probe_every == 0
        self._updates += 1
        if self.importance in DATA_DRIVEN and due:
            self.actor.denoiser.probe = []

    def end_update(self) -> None:
        """Fold the recorded update into the running scores (after the actor's backward)."""
        den = self.actor.denoiser
        recs, den.probe = den.probe, None
        if not recs:
            return
        batch = self.probe_scores(recs)
        if batch is None:
            return
        decay = self.ema**self.probe_every
        with torch.no_grad():
            for s, b in zip(self.scores, batch, strict=True):
                if self._count == 0:
                    s.copy_(b)
                else:
                    s.mul_(decay).add_(b, alpha=1.0 - decay)
        self._count += 1

    @torch.no_grad()
    def probe_scores(self, recs: list) -> list[torch.Tensor] | None:
        """Per-neuron scores of one recorded actor update, for every neuron of every hidden
        layer, masked or not (None if the backward pass did not reach the records).

        With z_n the neuron's *unmasked* pre-activation (its ``*_orig`` row applied to the
        layer's actual input), a_n = Mish(z_n) and g_n = dL/da_n the loss gradient at the
        neuron's output (the next layer's pre-activation gradient times the next layer's
        unmasked column n; exact for kept neurons, the gradient a neuron would receive at
        gate 0 for masked ones), averaged over the batch and the denoising steps:

        * ``taylor``: |a_n g_n| (first-order loss change of a gate on the neuron's output
          toggled 1 -> 0 for a kept neuron, 0 -> 1 for a masked one);
        * ``activation``: |a_n|;
        * ``gradient``: |z_n dL/dz_n|, dL/dz_n = g_n Mish'(z_n) (Mish'(0) for masked ones, the
          pre-activation they have in the masked network).
        """
        recs = [r for r in recs if r.geps is not None and all(g is not None for g in r.gh)]
        if not recs:
            return None
        den = self.actor.denoiser
        keep = den.keep_indices()
        layers = list(den.hidden)
        n_layers = len(layers)
        # kept neurons: everything was recorded (rows: batch x denoising steps)
        zk = [torch.cat([r.z[i] for r in recs]) for i in range(n_layers)]
        ak = [torch.cat([r.h[i] for r in recs]) for i in range(n_layers)]
        gk = [torch.cat([r.gh[i] for r in recs]) for i in range(n_layers)]
        out = []
        for i, layer in enumerate(layers):
            sc = torch.empty(den.widths[i], device=zk[i].device)
            sc_k = self._score(zk[i], ak[i], gk[i], masked=False)
            if keep[i] is None:
                out.append(sc_k)
                continue
            sc[keep[i]] = sc_k
            mi = torch.nonzero(~layer.bias_mask.bool()).squeeze(1)
            # masked neurons: unmasked pre-activation from the layer's actual input ...
            w, b = _orig(layer, "weight").index_select(0, mi), _orig(layer, "bias")[mi]
            if i == 0:
                inp = torch.cat(
                    [torch.cat([r.x, r.t.expand(r.x.shape[0], -1), r.s], 1) for r in recs]
                )
            else:
                inp = ak[i - 1]
                if keep[i - 1] is not None:
                    w = w.index_select(1, keep[i - 1])
            zm = torch.addmm(b, inp, w.t())
            # ... and dL/da through the next layer's unmasked columns (kept rows only)
            if i + 1 < n_layers:
                g_next = gk[i + 1] * mish_grad(zk[i + 1])  # dL/dz of the next kept neurons
                w_next = _orig(layers[i + 1], "weight").index_select(1, mi)
                if keep[i + 1] is not None:
                    w_next = w_next.index_select(0, keep[i + 1])
            else:
                g_next = torch.cat([r.geps for r in recs])
                w_next = den.out.weight.index_select(1, mi)
            gm = g_next @ w_next
            sc[mi] = self._score(zm, mish(zm), gm, masked=True)
            out.append(sc)
        return out

    def _score(self, z: torch.Tensor, a: torch.Tensor, g: torch.Tensor, masked: bool):
        if self.importance == "taylor":
            return (a * g).abs().mean(0)
        if self.importance == "activation":
            return a.abs().mean(0)
        # gradient: |z dL/dz|; a masked neuron's pre-activation in the network is 0
        d = MISH_GRAD_0 if masked else mish_grad(z)
        return (z * g * d).abs().mean(0)

    @torch.no_grad()
    def magnitude_scores(self) -> list[torch.Tensor]:
        """||[W_in[n], b_n]|| * ||W_out[:, n]|| from the unmasked weights."""
        self.actor.denoiser.sync_compact()
        out = []
        for i, layer in enumerate(self.actor.denoiser.hidden):
            w = _orig(layer, "weight")
            b = _orig(layer, "bias")
            w_in = torch.sqrt((w**2).sum(1) + b**2)
            w_out = _orig(_out_layer(self.actor, i), "weight").norm(dim=0)
            out.append(w_in * w_out)
        return out

    @torch.no_grad()
    def current_scores(self) -> list[torch.Tensor]:
        """The scores the next recomputation uses (magnitude until data has been recorded)."""
        if self.importance in DATA_DRIVEN and self._count > 0:
            return [s.clone() for s in self.scores]
        return self.magnitude_scores()

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
        if self.compact is not None:
            self.compact.release()  # the scores and the masks work on the full tensors
        old = neuron_masks(self.actor)
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
        revived = sum(int((m & ~o).sum()) for m, o in zip(masks, old, strict=True))
        newly = sum(int((~m & o).sum()) for m, o in zip(masks, old, strict=True))
        self.last_churn = {"revived": revived, "newly_masked": newly}
        self.churn_total["revived"] += revived
        self.churn_total["newly_masked"] += newly
        self._churn_window += revived + newly
        self.recomputations += 1
        set_neuron_masks(self.actor, masks)
        for t in self.targets:
            set_neuron_masks(t, masks)
        self.max_ratio = max(self.max_ratio, pruning_ratio(self.actor))
        if self.compact is not None:
            self.compact.acquire()

    def take_churn(self) -> int:
        """Neurons revived + newly masked since the previous call (one metrics row)."""
        n, self._churn_window = self._churn_window, 0
        return n

    # ----- checkpointing ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "calls": self.calls,
            "ratio": self.ratio,
            "count": self._count,
            "scores": [s.clone() for s in self.scores],
            "updates": self._updates,
            "recomputations": self.recomputations,
            "max_ratio": self.max_ratio,
            "churn_revived": self.churn_total["revived"],
            "churn_newly_masked": self.churn_total["newly_masked"],
            "churn_window": self._churn_window,
            "last_revived": self.last_churn["revived"],
            "last_newly_masked": self.last_churn["newly_masked"],
        }

    def load_state_dict(self, st: dict) -> None:
        self.calls = int(st["calls"])
        self.ratio = float(st["ratio"])
        self._count = int(st["count"])
        for s, v in zip(self.scores, st["scores"], strict=True):
            s.copy_(v)
        # keys added with the churn counters (older checkpoints lack them)
        self._updates = int(st.get("updates", self.calls))
        self.recomputations = int(st.get("recomputations", 0))
        self.max_ratio = float(st.get("max_ratio", pruning_ratio(self.actor)))
        self.churn_total = {
            "revived": int(st.get("churn_revived", 0)),
            "newly_masked": int(st.get("churn_newly_masked", 0)),
        }
        self._churn_window = int(st.get("churn_window", 0))
        self.last_churn = {
            "revived": int(st.get("last_revived", 0)),
            "newly_masked": int(st.get("last_newly_masked", 0)),
        }


def deployment_pruning(actor: DiffusionActor, pruner_state: dict | None = None) -> dict:
    """What pruning the deployed actor actually got, for ``evaluate``.

    ``pruner_state``: the checkpoint's ``agent["pruner"]`` (None for DMSAC or unknown).
    Returns ``pruning_ratio`` (fraction of hidden neurons masked now), ``hidden_widths``
    (dense / compact), ``ever_pruned`` (a mask with masked neurons was ever applied),
    ``mask_recomputations`` and ``note``: a plain sentence, in particular when the actor was
    never pruned (then the "compact" actor is the dense one and any speed-up is noise).
    """
    ratio = pruning_ratio(actor)
    keep = [int(m.sum()) for m in neuron_masks(actor)]
    st = pruner_state or {}
    recomp = st.get("recomputations")
    max_ratio = float(st.get("max_ratio", ratio))
    ever = max(max_ratio, ratio) > 0.0
    if pruner_state is None:
        note = "actor pruned" if ratio > 0 else "actor never pruned (no pruner: DMSAC or dense)"
    elif ratio > 0:
        note = f"actor pruned: {ratio:.3f} of the hidden neurons masked"
    elif ever:
        note = "actor was pruned during training but no neuron is masked now"
    elif recomp == 0 or (recomp is None and int(st.get("calls", 0)) == 0):
        note = (
            "actor never pruned: no mask was ever computed (training stopped before the "
            "first recomputation, e.g. learning had not started); compact == dense"
        )
    else:
        note = (
            "actor never pruned: masks were computed with ratio 0 (the schedule had not "
            "reached prune_start_frac); compact == dense"
        )
    return {
        "pruning_ratio": ratio,
        "ever_pruned": bool(ever),
        "mask_recomputations": None if recomp is None else int(recomp),
        "hidden_widths": {"dense": list(actor.denoiser.widths), "compact": keep},
        "note": note,
    }


@torch.no_grad()
def compact_actor(actor: DiffusionActor) -> DiffusionActor:
    """A dense actor without the masked neurons, with the same outputs as the masked one.

    Hidden layer i keeps rows ``keep_i`` of its (masked) weight and bias; the next layer keeps
    the matching columns. Everything else is copied unchanged.
    """
    actor.denoiser.sync_compact()
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


@torch.no_grad()
def strip_masks(actor: DiffusionActor) -> DiffusionActor:
    """A copy of ``actor`` with its masks made permanent: plain parameters ``orig * mask``,
    no masks, so every neuron is computed (the full-width dense network)."""
    src = actor.state_dict()
    state = {}
    for k, v in src.items():
        if k.endswith("_mask"):
            continue
        if k.endswith("_orig"):
            base = k[: -len("_orig")]
            state[base] = v * src[base + "_mask"]
        else:
            state[k] = v.clone()
    out = DiffusionActor(**actor.arch).to(actor.denoiser.out.weight.device)
    out.load_state_dict(state)
    return out.train(actor.training)
