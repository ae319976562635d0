"""Conditional DDPM actor: a diffusion policy a ~ pi(. | s) over actions in [-1, 1]^act_dim.

Reverse process (DDPM with the VP noise schedule of Diffusion-QL, N steps, default 5)::

    x_N ~ N(0, I)
    for t = N .. 2:   x0_hat = clip((x_t - sqrt(1 - abar_t) eps_theta(x_t, t, s)) / sqrt(abar_t))
                      x_{t-1} = mu_t(x0_hat, x_t) + sigma_t z     (posterior q(x_{t-1}|x_t, x0))
    t = 1:            m = x0_hat(x_1, 1, s)                         (the action mean)
                      a = clip(m + sigma_phi(s) z, -1, 1)          (Gaussian head)

The denoiser eps_theta is an MLP on [x_t, step embedding(t), state encoding(s)]; its hidden
layers (``Denoiser.hidden``) are what EDMSAC prunes. The whole chain is reparameterised, so
the actor is trained by back-propagating the critic through every denoising step.

**Entropy estimator.** A diffusion policy has no tractable log-density. The last denoising
step is a Gaussian with a learned, state-dependent standard deviation sigma_phi(s) (instead
of the fixed tiny DDPM variance); its log-density log N(a; m, sigma_phi(s)^2) is exact given
x_1, and its entropy H(a | x_1, s) = sum log sigma_phi + d/2 log(2 pi e) is a lower bound of
the policy's entropy H(a | s) (conditioning never raises entropy). The soft objective and
the temperature tuning use this estimate, exactly as SAC uses its Gaussian log-density: the
temperature rises when the estimate is below the target entropy and falls when above.
(Clipping to [-1, 1] is ignored by the estimate, as in DACER / Diffusion-QL.) With
``squash="tanh"`` the last step is SAC's squashed Gaussian instead: u = m + sigma_phi(s) z,
a = tanh(u) (m unclipped), and log pi(a | x_1, s) includes the log-det -sum log(1 - a^2), so
saturated actions keep a gradient and an honest entropy (``entropy_estimate`` stays the
Gaussian's). The lower bound can be far off: the earlier steps' noise spreads the chain's
output: for a freshly initialised 1-D actor the entropy measured from 20 000 draws is 3-4
nats above the last-step estimate. :meth:`GaussianLastStep.chain_entropy` estimates the
whole policy's entropy from a few chains per state instead (a Gaussian fit to their
spread, an upper bound), which the temperature tuning can use
(``RLConfig.entropy_estimate = "chain"``).

**Evaluation actions.** ``mode="deterministic"`` runs the chain without any noise (x_N = 0,
z = 0): a deterministic, low-variance contract. ``mode="mean"`` averages the noise-free
last-step means of ``n`` independent chains. ``mode="sample"`` draws from the policy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dyncontract.rl.networks import ACTIVATION_MODULES, SinusoidalPosEmb


def vp_beta_schedule(n_steps: int, beta_min: float = 0.1, beta_max: float = 10.0) -> np.ndarray:
    """Variance-preserving (VP-SDE) discretisation, as in Diffusion-QL: betas (n_steps,)."""
    t = np.arange(1, n_steps + 1, dtype=np.float64)
    T = float(n_steps)
    alpha = np.exp(-beta_min / T - 0.5 * (beta_max - beta_min) * (2 * t - 1) / T**2)
    return 1.0 - alpha


def tanh_log_det(u: torch.Tensor) -> torch.Tensor:
    """log(1 - tanh(u)^2) elementwise, computed stably as 2 (log 2 - u - softplus(-2u))."""
    return 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))


class _StraightThroughClamp(torch.autograd.Function):
    """clamp(x, -1, 1) forward, identity backward (so a mean outside the box can come back)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x.clamp(-1.0, 1.0)

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return g


def st_clamp(x: torch.Tensor) -> torch.Tensor:
    return _StraightThroughClamp.apply(x)  # type: ignore[no-any-return]


class Denoiser(nn.Module):
    """eps_theta(x_t, t, s): the noise in x_t, given the step embedding and the state encoding.

    ``hidden`` is a ModuleList of the hidden ``nn.Linear`` layers (the prunable neurons);
    each is followed by Mish. ``widths`` may differ per layer (a compacted network).

    **Kept neurons only.** When a hidden layer carries a structured neuron mask
    (``torch.nn.utils.prune`` buffers ``bias_mask`` / ``weight_mask`` with parameters
    ``weight_orig`` / ``bias_orig``, see :mod:`dyncontract.rl.pruning`), the forward pass
    slices the kept rows (and the next layer's matching columns) out of the unmasked
    parameters once per call of :meth:`bind` and runs every denoising step on those smaller
    matrices. A masked neuron outputs Mish(0) = 0 in the masked dense network, so outputs are
    the same, and the gradient of every kept weight is the same (the slice's backward
    scatters it into the full ``*_orig`` tensors; masked rows and columns get exactly 0, as
    with the masked dense computation). The index plan is rebuilt whenever a mask buffer
    changes (tracked by the buffers' version counters). The prune forward hooks are not
    used (``layer.weight`` of a pruned layer is stale; read ``weight_orig`` and the mask).

    **First layer.** Its input is [x_t, t_emb, s_emb]; :meth:`bind` splits its weight by
    input block and precomputes the state and step parts once per chain, so each step only
    multiplies x_t (act_dim columns).

    **Probe.** When ``probe`` is a list (set by the pruner around an actor update), each
    step appends a record of its inputs and kept pre-activations, with gradient hooks on
    the kept activations and on eps, so that the pruner can score kept *and* masked
    neurons after the backward pass (see
    :class:`dyncontract.rl.pruning.DynamicPruner`).
    """

    def __init__(
        self,
        act_dim: int,
        time_dim: int,
        state_dim: int,
        widths: list[int],
        activation: str = "mish",
    ) -> None:
        super().__init__()
        self.act_dim = act_dim
        self.time_dim = time_dim
        self.widths = list(widths)
        dims = [act_dim + time_dim + state_dim, *widths]
        self.hidden = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(len(widths)))
        self.out = nn.Linear(dims[-1], act_dim)
        self.act = ACTIVATION_MODULES[activation]()  # mish: a faster exact Mish on large tensors
        self._plan_key: tuple | None = None
        self._plan: list[torch.Tensor | None] = []
        self._flat: dict[int, torch.Tensor] = {}
        #: the compact copy of the kept neurons (see :meth:`make_compact`), or None
        self._compact: _Compact | None = None
        #: set to a list by the pruner to record one actor update (see the class docs)
        self.probe: list | None = None
        # whoever reads the weights through state_dict sees the compact copy's values
        self.register_state_dict_pre_hook(lambda module, *_: module.sync_compact())

    # ----- which neurons are kept ---------------------------------------------------------------
    def keep_indices(self) -> list[torch.Tensor | None]:
        """Kept neuron indices per hidden layer (None: every neuron kept), from the masks."""
        key = tuple(
            None if (m := getattr(layer, "bias_mask", None)) is None else (id(m), m._version)
            for layer in self.hidden
        )
        if key != self._plan_key:
            plan: list[torch.Tensor | None] = []
            for layer in self.hidden:
                m = getattr(layer, "bias_mask", None)
                if m is None or bool(m.all()):
                    plan.append(None)
                else:
                    plan.append(torch.nonzero(m).squeeze(1))
            # rows and columns both sliced: one gather on the flattened weight (its backward
            # is a single scatter into one zero tensor instead of two)
            self._flat = {}
            for i in range(1, len(plan)):
                rows, cols = plan[i], plan[i - 1]
                if rows is not None and cols is not None:
                    n_in = self.hidden[i].in_features
                    self._flat[i] = (rows[:, None] * n_in + cols[None, :]).reshape(-1)
            self._plan, self._plan_key = plan, key
        return self._plan

    def _plan_key_now(self) -> tuple:
        self.keep_indices()
        return self._plan_key  # type: ignore[return-value]

    def effective_params(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Weights and biases of the hidden layers and the output layer restricted to the kept
        neurons: hidden layer i is (k_i, k_{i-1}) (k_{-1} the full input), out (act_dim, k_last).
        Differentiable w.r.t. the (unmasked) parameters — or, while a compact copy exists
        (:meth:`make_compact`), the compact copy's tensors themselves."""
        if self._compact is not None:
            if self._compact.key != self._plan_key_now():
                raise RuntimeError(
                    "denoiser: the neuron masks changed while a compact copy of the kept "
                    "neurons is being trained; drop_compact() before changing masks"
                )
            return self._compact.ws, self._compact.bs
        keep = self.keep_indices()
        ws: list[torch.Tensor] = []
        bs: list[torch.Tensor] = []
        prev: torch.Tensor | None = None
        for i, (layer, k) in enumerate(zip(self.hidden, keep, strict=True)):
            w = getattr(layer, "weight_orig", None)
            b = getattr(layer, "bias_orig", None)
            w = layer.weight if w is None else w
            b = layer.bias if b is None else b
            if k is not None and prev is not None:
                w = w.reshape(-1).index_select(0, self._flat[i]).view(len(k), len(prev))
                b = b.index_select(0, k)
            elif k is not None:
                w, b = w.index_select(0, k), b.index_select(0, k)
            elif prev is not None:
                w = w.index_select(1, prev)
            ws.append(w)
            bs.append(b)
            prev = k
        wo = self.out.weight if prev is None else self.out.weight.index_select(1, prev)
        ws.append(wo)
        bs.append(self.out.bias)
        return ws, bs

    # ----- compact copy of the kept neurons ---------------------------------------------------
    @torch.no_grad()
    def make_compact(self) -> None:
        """Copy the kept neurons' weights into new, smaller dense parameters that every forward
        pass then uses (no slicing per chain), until :meth:`drop_compact`; the copies are in
        :attr:`compact_slots` (none when no neuron is masked: then nothing is copied). The
        full tensors keep the masked neurons' weights, untouched while the copy is trained;
        :meth:`sync_compact` writes the copy back."""
        self.drop_compact()
        keep = self.keep_indices()
        if all(k is None for k in keep):
            return
        layers = [*self.hidden, self.out]
        ws: list[torch.Tensor] = []
        bs: list[torch.Tensor] = []
        slots: list[_Slot] = []
        prev: torch.Tensor | None = None
        for i, layer in enumerate(layers):
            rows = keep[i] if i < len(keep) else None
            full_w = getattr(layer, "weight_orig", None)
            full_b = getattr(layer, "bias_orig", None)
            full_w = layer.weight if full_w is None else full_w
            full_b = layer.bias if full_b is None else full_b
            for full, r, c, out in ((full_w, rows, prev, ws), (full_b, rows, None, bs)):
                if r is None and c is None:
                    out.append(full)  # nothing sliced: the parameter itself
                    continue
                slot = _Slot(full, r, c)
                out.append(slot.compact)
                slots.append(slot)
            prev = rows
        self._compact = _Compact(self._plan_key_now(), ws, bs, slots)

    @torch.no_grad()
    def sync_compact(self) -> None:
        """Write the compact copy's values into the full tensors (no-op without a copy)."""
        if self._compact is not None:
            for slot in self._compact.slots:
                slot.scatter(slot.compact, slot.full)

    def drop_compact(self) -> None:
        """Write the compact copy back and stop using it."""
        self.sync_compact()
        self._compact = None

    @property
    def compact_slots(self) -> list[_Slot]:
        return [] if self._compact is None else list(self._compact.slots)

    # ----- evaluation ---------------------------------------------------------------------------
    def bind(self, t_all: torch.Tensor, s_emb: torch.Tensor) -> BoundDenoiser:
        """Prepare one reverse chain: t_all (N, time_dim) step embeddings, s_emb (B, state_dim).
        Returns a :class:`BoundDenoiser`; ``eps(x, i)`` is the predicted noise (B, act_dim) of
        x (B, act_dim) at step i."""
        probe = self.probe if torch.is_grad_enabled() else None
        record = None
        if probe is not None:

            def record(x, i, zs, hs, out):  # type: ignore[no-untyped-def]
                if out.requires_grad:
                    probe.append(_ProbeStep(x, t_all[i], s_emb, zs, hs, out))

        ws, bs = self.effective_params()
        return bind_weights(ws, bs, t_all, s_emb, self.act_dim, self.time_dim, self.act, record)

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor, s_emb: torch.Tensor) -> torch.Tensor:
        """x (B, act_dim), t_emb (B, time_dim), s_emb (B, state_dim) -> eps (B, act_dim)."""
        ws, bs = self.effective_params()
        h = torch.cat([x, t_emb, s_emb], dim=-1)
        for w, b in zip(ws[:-1], bs[:-1], strict=True):
            h = self.act(torch.nn.functional.linear(h, w, b))
        return torch.nn.functional.linear(h, ws[-1], bs[-1])


def bind_weights(
    ws: list[torch.Tensor],
    bs: list[torch.Tensor],
    t_all: torch.Tensor,
    s_emb: torch.Tensor,
    act_dim: int,
    time_dim: int,
    act: Callable[[torch.Tensor], torch.Tensor],
    record: Callable[..., None] | None = None,
) -> BoundDenoiser:
    """:meth:`Denoiser.bind` from the kept neurons' weights ``ws``/``bs``
    (:meth:`Denoiser.effective_params`): the first layer's state and step parts are computed
    once per chain, (N, B, k0)."""
    w0 = ws[0]
    ctx = torch.addmm(bs[0], s_emb, w0[:, act_dim + time_dim :].t())
    ctx = ctx.unsqueeze(0) + (t_all @ w0[:, act_dim : act_dim + time_dim].t()).unsqueeze(1)
    rest = [(w.t(), b) for w, b in zip(ws[1:-1], bs[1:-1], strict=True)]
    return BoundDenoiser(ctx, w0[:, :act_dim].t(), rest, ws[-1].t(), bs[-1], act, record)


class BoundDenoiser:
    """The denoiser's weights prepared for one reverse chain (:meth:`Denoiser.bind`):
    ``ctx`` (N, B, k0) the first layer's state + step part per step, ``w0x`` (act_dim, k0)
    its x part, ``rest`` the other hidden layers (transposed weight, bias), ``wo``/``bo`` the
    output layer; ``record`` the pruner's probe (None when not recording)."""

    def __init__(self, ctx, w0x, rest, wo, bo, act, record) -> None:  # type: ignore[no-untyped-def]
        self.ctx, self.w0x, self.rest, self.wo, self.bo = ctx, w0x, rest, wo, bo
        self.act, self.record = act, record

    def __call__(self, x: torch.Tensor, i: int) -> torch.Tensor:
        z = torch.addmm(self.ctx[i], x, self.w0x)
        h = self.act(z)
        zs, hs = [z], [h]
        for w, b in self.rest:
            z = torch.addmm(b, h, w)
            h = self.act(z)
            zs.append(z)
            hs.append(h)
        out = torch.addmm(self.bo, h, self.wo)
        if self.record is not None:
            self.record(x, i, zs, hs, out)
        return out


def reverse_chain(
    x: torch.Tensor,
    zs: list[torch.Tensor] | None,
    eps: Callable[[torch.Tensor, int], torch.Tensor],
    n_steps: int,
    coef: dict[str, list[float]],
    x0_clip: float,
) -> torch.Tensor:
    """The reverse chain from x_N (B, A) to the last-step raw mean (B, A): ``eps(x, i)`` the
    bound denoiser (:meth:`Denoiser.bind`), ``zs`` the posterior noises of steps N-1 .. 1
    (None: noise-free), ``coef`` the DDPM coefficients as Python numbers. What
    ``rl.compile_chain`` compiles within :func:`~dyncontract.rl.edmsac.actor_objective`."""
    raw = x
    for i in reversed(range(n_steps)):
        e = eps(x, i)
        raw = torch.add(x * coef["sqrt_recip_abar"][i], e, alpha=-coef["sqrt_recipm1_abar"][i])
        if i > 0:
            x0 = raw.clamp(-x0_clip, x0_clip)
            x = torch.add(x0 * coef["post_coef1"][i], x, alpha=coef["post_coef2"][i])
            if zs is not None:
                x = torch.add(x, zs[n_steps - 1 - i], alpha=coef["post_std"][i])
    return raw


class _Slot:
    """One sliced tensor of the compact copy: rows ``rows`` (None: all) and columns ``cols``
    (None: all) of ``full``; ``compact`` is a new leaf parameter holding them."""

    __slots__ = ("full", "rows", "cols", "compact")

    def __init__(self, full: torch.Tensor, rows: torch.Tensor | None, cols: torch.Tensor | None):
        self.full, self.rows, self.cols = full, rows, cols
        self.compact = nn.Parameter(self.gather(full.detach()).clone())

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """The slot's part of a tensor shaped like ``full`` (an Adam moment, say)."""
        if self.rows is not None:
            t = t.index_select(0, self.rows)
        if self.cols is not None:
            t = t.index_select(1, self.cols)
        return t

    def scatter(self, part: torch.Tensor, into: torch.Tensor) -> None:
        """Write ``part`` (compact-shaped) into the slot's positions of ``into`` (full-shaped)."""
        if self.rows is not None and self.cols is not None:
            into[self.rows[:, None], self.cols[None, :]] = part
        elif self.rows is not None:
            into[self.rows] = part
        else:
            into[:, self.cols] = part


@dataclass
class _Compact:
    key: tuple
    ws: list[torch.Tensor]
    bs: list[torch.Tensor]
    slots: list[_Slot]


class _ProbeStep:
    """One denoising step recorded for the pruner: the first layer's inputs x_t, t_emb (T,)
    and s_emb, the kept neurons' pre-activations ``z`` and activations ``h`` (all detached)
    and, after backward, the loss gradients w.r.t. the kept neurons' activations (``gh``) and
    w.r.t. eps (``geps``), filled in by tensor hooks."""

    __slots__ = ("x", "t", "s", "z", "h", "gh", "geps")

    def __init__(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        s: torch.Tensor,
        zs: list[torch.Tensor],
        hs: list[torch.Tensor],
        out: torch.Tensor,
    ) -> None:
        self.x, self.t, self.s = x.detach(), t.detach(), s.detach()
        self.z = [z.detach() for z in zs]
        self.h = [h.detach() for h in hs]
        self.gh: list[torch.Tensor | None] = [None] * len(hs)
        self.geps: torch.Tensor | None = None
        for j, h in enumerate(hs):
            h.register_hook(self._set_gh(j))
        out.register_hook(self._set_geps)

    def _set_gh(self, j: int):
        def hook(g: torch.Tensor) -> None:
            self.gh[j] = g.detach()

        return hook

    def _set_geps(self, g: torch.Tensor) -> None:
        self.geps = g.detach()


@dataclass
class SampleInputs:
    """:meth:`DiffusionActor.sample_inputs`: ``x`` (B, A) the chain's start x_N, ``zs`` the
    posterior noises of steps N-1 .. 1 (each (B, A)), ``z`` (B, A) the last step's noise,
    ``ws``/``bs`` the denoiser's kept weights (:meth:`Denoiser.effective_params`)."""

    x: torch.Tensor
    zs: list[torch.Tensor]
    z: torch.Tensor
    ws: list[torch.Tensor]
    bs: list[torch.Tensor]


@dataclass
class ActorOutput:
    """``action`` (B, A) in [-1, 1]; ``log_prob`` (B,) of the last step (None if noise-free);
    ``mean`` (B, A) the last-step mean (clipped); ``log_std`` (B, A); ``raw_mean`` (B, A)."""

    action: torch.Tensor
    log_prob: torch.Tensor | None
    mean: torch.Tensor
    log_std: torch.Tensor
    raw_mean: torch.Tensor


class GaussianLastStep(nn.Module):
    """What every actor of this library shares: a state encoder ``state_enc``, a
    state-dependent log-std head bounded in [log_std_min, log_std_max], and the last step
    a = squash(m + sigma z) with its exact Gaussian log-density (the entropy estimator of the
    module docstring). Subclasses compute the raw mean ``m`` (a denoising chain, or an MLP)."""

    act_dim: int
    log_std_min: float
    log_std_max: float
    squash: str = "clip"
    state_enc: nn.Module
    log_std_head: nn.Linear

    def _log_std(self, s_emb: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.log_std_head(s_emb))
        return self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (h + 1.0)

    def _last_step(
        self,
        raw: torch.Tensor,
        s_emb: torch.Tensor,
        generator: torch.Generator | None,
        noise: bool,
        tanh: bool = False,
        z: torch.Tensor | None = None,
    ) -> ActorOutput:
        """raw mean (B, A) -> :class:`ActorOutput` (noise-free: the squashed mean). ``z``
        (B, A): the last step's standard normal noise, drawn from ``generator`` when None."""
        mean = torch.tanh(raw) if tanh else st_clamp(raw)
        log_std = self._log_std(s_emb)
        if not noise:
            return ActorOutput(mean, None, mean, log_std, raw)
        if z is None:
            z = torch.randn(raw.shape[0], self.act_dim, generator=generator, device=raw.device)
        log_prob = -(log_std + 0.5 * z**2).sum(-1) - 0.5 * self.act_dim * math.log(2 * math.pi)
        if tanh:
            # SAC's squashing: u ~ N(raw, sigma^2), a = tanh(u), log-det of the Jacobian
            u = raw + log_std.exp() * z
            action = torch.tanh(u)
            log_prob = log_prob - tanh_log_det(u).sum(-1)
        else:
            action = (mean + log_std.exp() * z).clamp(-1.0, 1.0)
        return ActorOutput(action, log_prob, mean, log_std, raw)

    @torch.no_grad()
    def act(
        self,
        obs: torch.Tensor,
        generator: torch.Generator | None = None,
        mode: str = "deterministic",
        n: int = 8,
    ) -> torch.Tensor:
        """Actions (B, A) without gradients."""
        return self(obs, generator, mode=mode, n=n).action

    def entropy_estimate(self, obs: torch.Tensor) -> torch.Tensor:
        """H(a | x_1, s) = sum log sigma + d/2 log(2 pi e) per state, shape (B,) (the
        unsquashed Gaussian's entropy)."""
        log_std = self._log_std(self.state_enc(obs))
        return log_std.sum(-1) + 0.5 * self.act_dim * (1.0 + math.log(2 * math.pi))

    @torch.no_grad()
    def chain_entropy(
        self, obs: torch.Tensor, generator: torch.Generator | None = None, samples: int = 8
    ) -> torch.Tensor:
        """A Gaussian-fit estimate of the whole policy's entropy H(a | s), shape (B,), from
        ``samples`` independent draws (a chain and a last-step noise each) per row of obs
        (B, obs_dim).

        The pre-squash sample u = m(x_1, s) + sigma(s) z has per-dimension variance
        Var_{x_1}[m] + sigma^2 (total variance; the first term is estimated from the draws,
        the second is exact). A Gaussian with these variances has at least u's entropy (the
        maximum-entropy law for given variances), so this bounds H(u | s) from above where
        :meth:`entropy_estimate` bounds it from below. With tanh squashing the draws' mean
        log-det sum log(1 - a^2) is added (the change of variables u -> a)."""
        B = obs.shape[0]
        raw, s_emb = self._chain(obs.repeat(samples, 1), generator, noise=True)
        log_std = self._log_std(s_emb)
        var_u = raw.view(samples, B, -1).var(0) + (2.0 * log_std[:B]).exp()
        h = 0.5 * (var_u.log() + 1.0 + math.log(2 * math.pi)).sum(-1)
        if self.squash == "tanh":
            z = torch.randn(raw.shape, generator=generator, device=raw.device)
            u = raw + log_std.exp() * z
            h = h + tanh_log_det(u).sum(-1).view(samples, B).mean(0)
        return h

    def _chain(
        self, obs: torch.Tensor, generator: torch.Generator | None, noise: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The raw last-step mean (B, A) and the state encoding (B, state_dim)."""
        raise NotImplementedError


class DiffusionActor(GaussianLastStep):
    """Conditional DDPM policy (see the module docstring)."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        n_steps: int = 5,
        widths: list[int] | tuple[int, ...] = (256, 256, 256),
        time_dim: int = 16,
        state_dim: int = 64,
        beta_min: float = 0.1,
        beta_max: float = 10.0,
        log_std_min: float = -7.0,
        log_std_max: float = 0.0,
        kind: str = "diffusion",
        squash: str = "clip",
        activation: str = "mish",
        x0_clip: float = 1.0,
    ) -> None:
        super().__init__()
        if kind != "diffusion":
            raise ValueError(f"kind: must be 'diffusion', got {kind!r}")
        if squash not in ("clip", "tanh"):
            raise ValueError(f"squash: must be clip or tanh, got {squash!r}")
        if not x0_clip > 0:
            raise ValueError(f"x0_clip: must be > 0, got {x0_clip!r}")
        self.obs_dim, self.act_dim, self.n_steps = obs_dim, act_dim, n_steps
        self.squash = squash
        self.x0_clip = float(x0_clip)
        #: the constructor arguments (``DiffusionActor(**arch)`` rebuilds the architecture)
        self.arch = dict(
            kind="diffusion",
            obs_dim=obs_dim,
            act_dim=act_dim,
            n_steps=n_steps,
            widths=list(widths),
            time_dim=time_dim,
            state_dim=state_dim,
            beta_min=beta_min,
            beta_max=beta_max,
            log_std_min=log_std_min,
            log_std_max=log_std_max,
            squash=squash,
            activation=activation,
            x0_clip=float(x0_clip),
        )
        self.log_std_min, self.log_std_max = log_std_min, log_std_max
        self.time_mlp = nn.Sequential(
            SinusoidalPosEmb(time_dim),
            nn.Linear(time_dim, 2 * time_dim),
            nn.Mish(),
            nn.Linear(2 * time_dim, time_dim),
        )
        self.state_enc = nn.Sequential(
            nn.Linear(obs_dim, state_dim), nn.Mish(), nn.Linear(state_dim, state_dim), nn.Mish()
        )
        self.denoiser = Denoiser(act_dim, time_dim, state_dim, list(widths), activation)
        self.log_std_head = nn.Linear(state_dim, act_dim)
        # DDPM coefficients (float64 numpy -> float32 buffers)
        betas = vp_beta_schedule(n_steps, beta_min, beta_max)
        alphas = 1.0 - betas
        abar = np.cumprod(alphas)
        abar_prev = np.concatenate([[1.0], abar[:-1]])
        post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
        coefs = {
            "sqrt_recip_abar": np.sqrt(1.0 / abar),
            "sqrt_recipm1_abar": np.sqrt(1.0 / abar - 1.0),
            "post_coef1": betas * np.sqrt(abar_prev) / (1.0 - abar),
            "post_coef2": (1.0 - abar_prev) * np.sqrt(alphas) / (1.0 - abar),
            "post_std": np.sqrt(np.maximum(post_var, 1e-20)),
        }
        for name, v in coefs.items():
            self.register_buffer(name, torch.as_tensor(v, dtype=torch.float32), persistent=False)
        # the same float32 values as Python numbers: the chain multiplies by scalars (no
        # indexing op and no broadcast 0-d tensor per step, forward and backward)
        self._coef = {k: [float(c) for c in getattr(self, k)] for k in coefs}

    # ------------------------------------------------------------------------------------------
    def _chain(
        self, obs: torch.Tensor, generator: torch.Generator | None, noise: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the reverse chain to the last-step mean. Returns (raw mean (B, A), s_emb)."""
        s_emb = self.state_enc(obs)
        steps = torch.arange(self.n_steps, device=obs.device)
        t_all = self.time_mlp(steps)  # (N, time_dim)
        if noise:
            x, zs = self._chain_noises(obs, generator)
        else:
            x, zs = torch.zeros(obs.shape[0], self.act_dim, device=obs.device), None
        eps = self.denoiser.bind(t_all, s_emb)  # kept neurons only, once per chain
        raw = reverse_chain(x, zs, eps, self.n_steps, self._coef, self.x0_clip)
        return raw, s_emb

    def _chain_noises(
        self, obs: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x_N (B, A) and the posterior noises of steps N-1 .. 1, drawn in the order the chain
        uses them."""
        B, A, dev = obs.shape[0], self.act_dim, obs.device
        x = torch.randn(B, A, generator=generator, device=dev)
        return x, [
            torch.randn(B, A, generator=generator, device=dev) for _ in range(self.n_steps - 1)
        ]

    def sample_inputs(self, obs: torch.Tensor, generator: torch.Generator | None) -> SampleInputs:
        """The random inputs of ``forward(obs, generator, "sample")``, drawn from ``generator``
        in the same order, and the denoiser's kept weights; :meth:`sample_from` computes the
        same sample from them (split so that that half can be compiled, ``rl.compile_chain``;
        without the pruner's probe, which ``forward`` records)."""
        x, zs = self._chain_noises(obs, generator)
        z = torch.randn(obs.shape[0], self.act_dim, generator=generator, device=obs.device)
        ws, bs = self.denoiser.effective_params()
        return SampleInputs(x, zs, z, ws, bs)

    def sample_from(self, obs: torch.Tensor, inp: SampleInputs) -> ActorOutput:
        """A sample of obs (B, obs_dim) from :meth:`sample_inputs`: state encoding, step
        embeddings, the reverse chain and the last step."""
        s_emb = self.state_enc(obs)
        t_all = self.time_mlp(torch.arange(self.n_steps, device=obs.device))
        d = self.denoiser
        eps = bind_weights(inp.ws, inp.bs, t_all, s_emb, d.act_dim, d.time_dim, d.act)
        raw = reverse_chain(inp.x, inp.zs, eps, self.n_steps, self._coef, self.x0_clip)
        return self._last_step(raw, s_emb, None, True, self.squash == "tanh", z=inp.z)

    def imitation_loss(
        self, obs: torch.Tensor, target: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """The DDPM denoising loss of actions ``target`` (B, A) in [-1, 1] given obs (B, obs_dim),
        per row (B,): ||eps - eps_theta(sqrt(abar_t) a + sqrt(1 - abar_t) eps, t, s)||^2 with
        t uniform over the N steps (Diffusion-QL's behaviour-cloning term). With tanh squashing
        the chain lives before the squashing, so the target there is atanh(a), bounded by
        ``x0_clip``."""
        B = obs.shape[0]
        if self.squash == "tanh":
            target = torch.atanh(target.clamp(-0.999999, 0.999999))
            target = target.clamp(-self.x0_clip, self.x0_clip)
        t = torch.randint(0, self.n_steps, (B,), generator=generator, device=obs.device)
        eps = torch.randn(B, self.act_dim, generator=generator, device=obs.device)
        sqrt_abar = 1.0 / self.sqrt_recip_abar[t]
        x_t = sqrt_abar[:, None] * target + (sqrt_abar * self.sqrt_recipm1_abar[t])[:, None] * eps
        pred = self.denoiser(x_t, self.time_mlp(t), self.state_enc(obs))
        return (pred - eps).pow(2).sum(-1)

    def forward(
        self,
        obs: torch.Tensor,
        generator: torch.Generator | None = None,
        mode: str = "sample",
        n: int = 8,
    ) -> ActorOutput:
        """obs (B, obs_dim) -> :class:`ActorOutput`. ``mode``: sample | deterministic | mean."""
        tanh = self.squash == "tanh"
        if mode == "mean":
            B = obs.shape[0]
            rep = obs.repeat(n, 1)
            raw, s_emb = self._chain(rep, generator, noise=True)
            sq = torch.tanh(raw) if tanh else raw.clamp(-1.0, 1.0)
            mean = sq.view(n, B, -1).mean(0)
            log_std = self._log_std(s_emb[:B])
            return ActorOutput(mean, None, mean, log_std, raw.view(n, B, -1).mean(0))
        if mode not in ("sample", "deterministic"):
            raise ValueError(f"mode: must be sample, deterministic or mean, got {mode!r}")
        noise = mode == "sample"
        raw, s_emb = self._chain(obs, generator, noise=noise)
        return self._last_step(raw, s_emb, generator, noise, tanh)
