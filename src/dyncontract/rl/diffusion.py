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
Gaussian's).

**Evaluation actions.** ``mode="deterministic"`` runs the chain without any noise (x_N = 0,
z = 0): a deterministic, low-variance contract. ``mode="mean"`` averages the noise-free
last-step means of ``n`` independent chains. ``mode="sample"`` draws from the policy.
"""

from __future__ import annotations

import math
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
        self.widths = list(widths)
        dims = [act_dim + time_dim + state_dim, *widths]
        self.hidden = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(len(widths)))
        self.out = nn.Linear(dims[-1], act_dim)
        self.act = ACTIVATION_MODULES[activation]()

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor, s_emb: torch.Tensor) -> torch.Tensor:
        """x (B, act_dim), t_emb (B, time_dim), s_emb (B, state_dim) -> eps (B, act_dim)."""
        h = torch.cat([x, t_emb, s_emb], dim=-1)
        for layer in self.hidden:
            h = self.act(layer(h))
        return self.out(h)


@dataclass
class ActorOutput:
    """``action`` (B, A) in [-1, 1]; ``log_prob`` (B,) of the last step (None if noise-free);
    ``mean`` (B, A) the last-step mean (clipped); ``log_std`` (B, A); ``raw_mean`` (B, A)."""

    action: torch.Tensor
    log_prob: torch.Tensor | None
    mean: torch.Tensor
    log_std: torch.Tensor
    raw_mean: torch.Tensor


class DiffusionActor(nn.Module):
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
        squash: str = "clip",
        activation: str = "mish",
    ) -> None:
        super().__init__()
        if squash not in ("clip", "tanh"):
            raise ValueError(f"squash: must be clip or tanh, got {squash!r}")
        self.obs_dim, self.act_dim, self.n_steps = obs_dim, act_dim, n_steps
        self.squash = squash
        self.arch = dict(
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

    # ------------------------------------------------------------------------------------------
    def _log_std(self, s_emb: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.log_std_head(s_emb))
        return self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (h + 1.0)

    def _chain(
        self, obs: torch.Tensor, generator: torch.Generator | None, noise: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the reverse chain to the last-step mean. Returns (raw mean (B, A), s_emb)."""
        B = obs.shape[0]
        s_emb = self.state_enc(obs)
        steps = torch.arange(self.n_steps, device=obs.device)
        t_all = self.time_mlp(steps)  # (N, time_dim)
        if noise:
            x = torch.randn(B, self.act_dim, generator=generator, device=obs.device)
        else:
            x = torch.zeros(B, self.act_dim, device=obs.device)
        raw = x
        for i in reversed(range(self.n_steps)):
            eps = self.denoiser(x, t_all[i].expand(B, -1), s_emb)
            raw = self.sqrt_recip_abar[i] * x - self.sqrt_recipm1_abar[i] * eps
            if i > 0:
                x0 = raw.clamp(-1.0, 1.0)
                x = self.post_coef1[i] * x0 + self.post_coef2[i] * x
                if noise:
                    z = torch.randn(B, self.act_dim, generator=generator, device=obs.device)
                    x = x + self.post_std[i] * z
        return raw, s_emb

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
        mean = torch.tanh(raw) if tanh else st_clamp(raw)
        log_std = self._log_std(s_emb)
        if not noise:
            return ActorOutput(mean, None, mean, log_std, raw)
        z = torch.randn(obs.shape[0], self.act_dim, generator=generator, device=obs.device)
        log_prob = -(log_std + 0.5 * z**2).sum(-1) - 0.5 * self.act_dim * math.log(2 * math.pi)
        if tanh:
            # SAC's squashing: u ~ N(raw, sigma^2), a = tanh(u), log-det of the Jacobian
            u = raw + log_std.exp() * z
            action = torch.tanh(u)
            log_prob = log_prob - (2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))).sum(-1)
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
        """H(a | x_1, s) = sum log sigma + d/2 log(2 pi e) per state, shape (B,)."""
        log_std = self._log_std(self.state_enc(obs))
        return log_std.sum(-1) + 0.5 * self.act_dim * (1.0 + math.log(2 * math.pi))
