"""Gaussian actor: the diffusion actor's last step without the denoising chain (``--algo gsac``).

Same interface and the same last-step structure as :class:`~dyncontract.rl.diffusion.
DiffusionActor`, so that EDMSAC's update, the trainer, checkpoints and evaluation use it
unchanged and a table row "gsac" isolates what the diffusion chain adds::

    s_emb = state_enc(s)                          (same encoder as the diffusion actor)
    m_raw = MLP(s_emb)                             (actor_layers x actor_hidden, Mish)
    m     = st_clamp(m_raw)                        (clamp forward, identity backward)
    a     = clip(m + sigma_phi(s) z, -1, 1)        (same state-dependent log-std head)

Only the mean network differs: one MLP pass on the state encoding instead of the N-step
denoising chain. ``log_prob`` is the exact Gaussian log-density of the unclipped action
(clipping ignored, as for the diffusion actor) and :meth:`entropy_estimate` is the exact
entropy of that Gaussian. Modes: ``sample`` draws from the policy; ``deterministic`` and
``mean`` both return the mean m (the mean of the Gaussian is its own average over draws).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from dyncontract.rl.diffusion import ActorOutput, GaussianLastStep


class MeanNet(nn.Module):
    """m_raw(s_emb): hidden ``nn.Linear`` layers (each followed by Mish) and a linear output."""

    def __init__(self, state_dim: int, act_dim: int, widths: list[int]) -> None:
        super().__init__()
        self.widths = list(widths)
        dims = [state_dim, *widths]
        self.hidden = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(len(widths)))
        self.out = nn.Linear(dims[-1], act_dim)
        self.act = nn.Mish()

    def forward(self, s_emb: torch.Tensor) -> torch.Tensor:
        h = s_emb
        for layer in self.hidden:
            h = self.act(layer(h))
        return self.out(h)


class GaussianActor(GaussianLastStep):
    """Squashed-by-clipping Gaussian policy with a state-dependent standard deviation.

    ``arch`` holds exactly the constructor arguments (with ``kind="gaussian"``), so
    ``GaussianActor(**actor.arch)`` rebuilds it (see :func:`dyncontract.rl.evaluation.
    load_actor`).
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        widths: list[int] | tuple[int, ...] = (256, 256, 256),
        state_dim: int = 64,
        log_std_min: float = -7.0,
        log_std_max: float = 0.0,
        kind: Literal["gaussian"] = "gaussian",
    ) -> None:
        super().__init__()
        if kind != "gaussian":
            raise ValueError(f"kind: must be 'gaussian', got {kind!r}")
        if log_std_max <= log_std_min:
            raise ValueError(
                f"log_std_max: must be > log_std_min ({log_std_min}), got {log_std_max}"
            )
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.arch = dict(
            kind="gaussian",
            obs_dim=obs_dim,
            act_dim=act_dim,
            widths=list(widths),
            state_dim=state_dim,
            log_std_min=log_std_min,
            log_std_max=log_std_max,
        )
        self.log_std_min, self.log_std_max = log_std_min, log_std_max
        self.state_enc = nn.Sequential(
            nn.Linear(obs_dim, state_dim), nn.Mish(), nn.Linear(state_dim, state_dim), nn.Mish()
        )
        self.mean_net = MeanNet(state_dim, act_dim, list(widths))
        self.log_std_head = nn.Linear(state_dim, act_dim)

    @property
    def widths(self) -> list[int]:
        """Hidden widths of the mean network."""
        return list(self.mean_net.widths)

    def imitation_loss(
        self, obs: torch.Tensor, target: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Squared distance (B,) of the mean action from ``target`` (B, A) given obs (B, obs_dim)
        (the Gaussian counterpart of the diffusion actor's denoising loss)."""
        del generator
        mean = self(obs, mode="deterministic").action
        return (mean - target).pow(2).sum(-1)

    def forward(
        self,
        obs: torch.Tensor,
        generator: torch.Generator | None = None,
        mode: str = "sample",
        n: int = 8,
    ) -> ActorOutput:
        """obs (B, obs_dim) -> :class:`ActorOutput`. ``mode``: sample | deterministic | mean
        (``n`` is accepted for interface parity and unused: the mean needs no averaging)."""
        if mode not in ("sample", "deterministic", "mean"):
            raise ValueError(f"mode: must be sample, deterministic or mean, got {mode!r}")
        raw, s_emb = self._chain(obs, generator, noise=False)
        return self._last_step(raw, s_emb, generator, noise=mode == "sample")

    def _chain(
        self, obs: torch.Tensor, generator: torch.Generator | None, noise: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean network in place of a chain: (m_raw (B, A), s_emb); noise-free."""
        del generator, noise
        s_emb = self.state_enc(obs)
        return self.mean_net(s_emb), s_emb
