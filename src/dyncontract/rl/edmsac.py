"""EDMSAC: diffusion-model soft actor-critic with dynamic structured pruning (DMSAC without it).

One update (CleanRL-style, see :meth:`EDMSAC.update`)::

    # critics (twin, with target networks)
    a', log pi(a'|s')  ~ actor(s') (cfg.next_action_from: the current actor as in SAC, or the
                         Polyak-averaged target actor)      (skipped if every s' is terminal)
    y = r_scale r + gamma (1 - done) [min_i Q'_i(s', a') - alpha log pi(a'|s')]
    L_Q = sum_i MSE(Q_i(s, a), y)
    # actor (every actor_delay critic updates): back-propagate through the denoising chain
    a, log pi(a|s) ~ actor(s)
    L_pi = E[alpha log pi(a|s) - min_i Q_i(s, a)] + oob_penalty * E[relu(|m| - 1)^2]  (clip)
           + imitation_weight * E[1{y* > Q(s, a)} L_denoise(a* | s)]    (one-step groups:
             a* = the best of the state's M stored actions by target y*)
    # temperature (SAC automatic tuning on the last-step entropy estimate, or on the
    # whole chain's Gaussian-fit estimate H_chain(s) with rl.entropy_estimate = chain)
    L_alpha = -log alpha * E[log pi(a|s) + H_target]    or    log alpha * E[H_chain(s) - H_target]
    # Polyak averaging of the target critics (and of the target actor when it samples a');
    # the pruner recomputes the masks every prune_interval actor updates and copies them
    # into the target actor.

``log pi`` is the last-step Gaussian log-density (entropy estimator: see
:mod:`dyncontract.rl.diffusion`). Learning rates and the target entropy follow the training
progress in [0, 1] given to :meth:`update` (cosine / linear decay, linear anneal).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from dyncontract.rl.buffer import Batch
from dyncontract.rl.config import RLConfig
from dyncontract.rl.diffusion import DiffusionActor, SampleInputs
from dyncontract.rl.gaussian import GaussianActor
from dyncontract.rl.networks import TwinCritic
from dyncontract.rl.pruning import CompactTraining, DynamicPruner, pruning_ratio


def critic_objective(
    critic: TwinCritic,
    obs: torch.Tensor,
    act: torch.Tensor,
    y: torch.Tensor,
    group: int,
    center_weight: float,
    huber_delta: float | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The twin critics' loss on targets y (B,) for obs (B, obs_dim), act (B, A): MSE (Huber
    with ``huber_delta``) of both, plus ``center_weight`` times the group-centred loss — the
    ``group`` actions of one state are adjacent rows; regress the differences between them
    (state-level errors cancel), see docs/edmsac.md. Returns (loss, Q1 (B,)). One function so
    that ``rl.compile_critic`` can compile the critics and the loss as one graph."""
    q1, q2 = critic(obs, act)
    if huber_delta is not None:
        loss = F.huber_loss(q1, y, delta=huber_delta) + F.huber_loss(q2, y, delta=huber_delta)
    else:
        loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
    if group > 1 and center_weight > 0:
        yc = y.view(-1, group) - y.view(-1, group).mean(1, keepdim=True)
        for q in (q1, q2):
            qg = q.view(-1, group)
            loss = loss + center_weight * F.mse_loss(qg - qg.mean(1, keepdim=True), yc)
    return loss, q1


def actor_objective(
    actor: DiffusionActor,
    critic: TwinCritic,
    obs: torch.Tensor,
    alpha: torch.Tensor,
    inp: SampleInputs,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SAC's actor loss mean(alpha log pi(a|s) - min(Q1, Q2)(s, a)) of a sample finished from
    ``inp`` (:meth:`DiffusionActor.sample_inputs`), obs (B, obs_dim), alpha 0-d. Returns
    (loss, log_prob (B,), raw mean (B, A)). One function so that ``rl.compile_chain`` can
    compile the chain, the last step, the critic's value and the loss as one graph."""
    out = actor.sample_from(obs, inp)
    q_pi = critic.q_min(obs, out.action)
    assert out.log_prob is not None
    return (alpha * out.log_prob - q_pi).mean(), out.log_prob, out.raw_mean


def clip_grad_norm(params: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale the gradients of ``params`` in place so that their joint L2 norm is at most
    ``max_norm``; returns the norm before clipping. The numbers of
    ``nn.utils.clip_grad_norm_`` (the same norm and coefficient max_norm / (norm + 1e-6)),
    but on a CPU the gradients are only touched when that coefficient is below 1:
    ``clip_grad_norm_`` multiplies them by the clamped coefficient, 1.0, on every call — a
    pass over every gradient that changes nothing and is slow where a gradient holds
    subnormal numbers (docs/notes/edmsac_speed_and_ablations.md). On a GPU it multiplies always,
    as ``clip_grad_norm_`` does (no host sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    coef = max_norm / (total + 1e-6)
    # (a NaN norm fails "coef >= 1" and poisons every gradient, as clip_grad_norm_ does)
    if grads[0].device.type != "cpu" or not bool(coef >= 1.0):
        torch._foreach_mul_(grads, coef.clamp(max=1.0))
    return total


def lr_factor(schedule: str, progress: float, final_frac: float) -> float:
    """Multiplier of the base learning rate at training progress in [0, 1]."""
    p = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return 1.0 - (1.0 - final_frac) * p
    return final_frac + (1.0 - final_frac) * 0.5 * (1.0 + math.cos(math.pi * p))


def make_actor(cfg: RLConfig, obs_dim: int, act_dim: int) -> DiffusionActor | GaussianActor:
    """The actor of ``cfg.algo``: a Gaussian actor for ``gsac``, else the diffusion actor."""
    if cfg.algo == "gsac":
        return GaussianActor(
            obs_dim,
            act_dim,
            widths=[cfg.actor_hidden] * cfg.actor_layers,
            state_dim=cfg.state_embed_dim,
            log_std_min=cfg.log_std_min,
            log_std_max=cfg.log_std_max,
        )
    return DiffusionActor(
        obs_dim,
        act_dim,
        n_steps=cfg.diffusion_steps,
        widths=[cfg.actor_hidden] * cfg.actor_layers,
        time_dim=cfg.time_embed_dim,
        state_dim=cfg.state_embed_dim,
        beta_min=cfg.beta_min,
        beta_max=cfg.beta_max,
        log_std_min=cfg.log_std_min,
        log_std_max=cfg.log_std_max,
        squash=cfg.action_squash,
        activation=cfg.actor_activation,
        x0_clip=cfg.x0_clip_value,
    )


class EDMSAC(nn.Module):
    """The learner: actor, target actor, twin critics + targets, temperature, pruner."""

    def __init__(
        self,
        cfg: RLConfig,
        obs_dim: int,
        act_dim: int,
        device: str | torch.device = "cpu",
        group: int | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        #: batches hold groups of this many adjacent rows sharing a state (terminal rows only)
        self.group = cfg.actions_per_state if group is None else group
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.device = torch.device(device)
        self.actor = make_actor(cfg, obs_dim, act_dim).to(self.device)
        self.critic = TwinCritic(
            obs_dim,
            act_dim,
            cfg.critic_hidden,
            cfg.critic_layers,
            cfg.critic_layer_norm,
            cfg.critic_activation,
        ).to(self.device)
        self.pruner: DynamicPruner | None = None
        self.actor_target = copy.deepcopy(self.actor)
        if cfg.pruning:
            self.pruner = DynamicPruner(
                self.actor,
                targets=[self.actor_target],
                importance=cfg.prune_importance,
                target_ratio=cfg.prune_target,
                start=cfg.prune_start_frac,
                end=cfg.prune_end_frac,
                interval=cfg.prune_interval,
                probe_every=cfg.prune_probe_every,
            )
        self.critic_target = copy.deepcopy(self.critic)
        #: the compiled :func:`actor_objective` (``rl.compile_chain``), or None
        self.compiled_objective: Callable[..., tuple[torch.Tensor, ...]] | None = None
        options = {"cpp_wrapper": cfg.compile_cpp_wrapper}
        if cfg.compile_chain and isinstance(self.actor, DiffusionActor):
            self.compiled_objective = torch.compile(actor_objective, dynamic=None, options=options)
            # the kept widths change during the pruning ramp: let the compact copy's
            # parameters take dynamic shapes (one recompilation, not one per width); made
            # once, entering it costs ~10 us (a new patch object costs ~0.5 ms)
            self._dynamic_parameters = torch._dynamo.config.patch(
                force_parameter_static_shapes=False
            )
        #: the compiled :func:`critic_objective` (``rl.compile_critic``), or None
        self.compiled_critic_objective: Callable[..., tuple[torch.Tensor, ...]] | None = None
        if cfg.compile_critic:  # compiled in place: parameters and state_dict keys unchanged
            self.critic.compile(dynamic=False, options=options)
            self.critic_target.compile(dynamic=False, options=options)
            self.compiled_critic_objective = torch.compile(
                critic_objective, dynamic=False, options=options
            )
        for p in (*self.actor_target.parameters(), *self.critic_target.parameters()):
            p.requires_grad_(False)
        self.log_alpha = nn.Parameter(
            torch.tensor(math.log(cfg.init_alpha), dtype=torch.float32, device=self.device)
        )
        # one fused kernel per optimizer step (Adam's default on CPU loops over the parameter
        # tensors in Python, ~10 small ops each)
        fused = dict(fused=True)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr, **fused)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, **fused)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.alpha_lr, **fused)
        if (
            self.pruner is not None
            and cfg.prune_compact
            and cfg.eval_actor == "actor"
            and cfg.next_action_from == "actor"
        ):
            # between mask recomputations the kept neurons train as a compact dense copy
            self.pruner.compact = CompactTraining(self.actor, self.actor_opt)
        self.n_updates = 0
        self.n_actor_updates = 0

    @property
    def alpha(self) -> float:
        return float(self.log_alpha.exp().item())

    def prune_ratio(self) -> float:
        return pruning_ratio(self.actor) if self.pruner is not None else 0.0

    def _set_lrs(self, progress: float) -> None:
        f = lr_factor(self.cfg.lr_schedule, progress, self.cfg.lr_final_frac)
        for opt, base in (
            (self.actor_opt, self.cfg.actor_lr),
            (self.critic_opt, self.cfg.critic_lr),
            (self.alpha_opt, self.cfg.alpha_lr),
        ):
            for g in opt.param_groups:
                g["lr"] = base * f

    def _step(self, opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            # every group: the actor's may hold the compact copy of its kept neurons
            params = [p for g in opt.param_groups for p in g["params"]]
            clip_grad_norm(params, self.cfg.grad_clip)
        opt.step()

    def update(
        self, batch: Batch, generator: torch.Generator | None, progress: float
    ) -> dict[str, torch.Tensor | float]:
        """One gradient update on ``batch``; returns diagnostics as 0-d tensors (detached; no
        device sync here, convert with ``float`` when logging)."""
        cfg = self.cfg
        self._set_lrs(progress)
        alpha = self.log_alpha.detach().exp()
        rew = batch.rew * cfg.reward_scale if cfg.reward_scale != 1.0 else batch.rew
        clip_margin = cfg.reward_clip_margin is not None and self.group > 1
        if clip_margin or cfg.reward_clip_quantile is not None:
            one_step = bool((batch.done > 0.5).all())  # a bandit batch: clipping is safe
            if clip_margin and one_step:
                g = rew.view(-1, self.group)
                floor = g.median(dim=1, keepdim=True).values - cfg.reward_clip_margin
                rew = torch.maximum(g, floor).reshape(-1)
            if cfg.reward_clip_quantile is not None and one_step:
                rew = rew.clamp(min=torch.quantile(rew, cfg.reward_clip_quantile))
        # ---- critic ---------------------------------------------------------------------------
        with torch.no_grad():
            y = rew
            if cfg.gamma > 0 and bool((batch.done < 0.5).any()):
                src = self.actor if cfg.next_action_from == "actor" else self.actor_target
                nxt = src(batch.next_obs, generator, mode="sample")
                q_next = self.critic_target.q_min(batch.next_obs, nxt.action)
                soft = q_next - alpha * nxt.log_prob
                y = torch.addcmul(y, (1.0 - batch.done) * cfg.gamma, soft)
        m = self.group
        huber = cfg.huber_delta if cfg.critic_loss == "huber" else None
        center = cfg.critic_center_weight if m > 1 else 0.0
        objective = self.compiled_critic_objective or critic_objective
        critic_loss, q1 = objective(self.critic, batch.obs, batch.act, y, m, center, huber)
        self._step(self.critic_opt, critic_loss)
        self.n_updates += 1
        info: dict[str, torch.Tensor | float] = {
            "critic_loss": critic_loss.detach(),
            "q_mean": q1.detach().mean(),
        }
        # ---- actor + temperature --------------------------------------------------------------
        if self.n_updates % cfg.actor_delay == 0:
            if self.pruner is not None:
                self.pruner.begin_update()
            obs = batch.obs[:: self.group]  # one row per distinct state
            obs = obs[: cfg.actor_batch_size or len(obs)]
            self.critic.requires_grad_(False)
            if (
                self.compiled_objective is not None
                and not (cfg.imitation_weight > 0 and m > 1)  # needs q_pi
                and (self.pruner is None or not self.pruner.collecting)  # the probe records eagerly
            ):
                inp = self.actor.sample_inputs(obs, generator)  # type: ignore[operator]
                with self._dynamic_parameters:
                    actor_loss, log_prob, raw_mean = self.compiled_objective(
                        self.actor, self.critic, obs, alpha, inp
                    )
            else:
                out = self.actor(obs, generator, mode="sample")
                log_prob, raw_mean = out.log_prob, out.raw_mean
                q_pi = self.critic.q_min(obs, out.action)
                actor_loss = (alpha * log_prob - q_pi).mean()
            if cfg.imitation_weight > 0 and m > 1:
                # self-imitation: the best stored action of each state (by its target y), where
                # it beats the critic's value of the current action
                yg = y.view(-1, m)[: len(obs)]
                best_y, best_j = yg.max(1)
                rows = torch.arange(len(obs), device=obs.device) * m + best_j
                better = (best_y > q_pi.detach()).float()
                bc = self.actor.imitation_loss(obs, batch.act[rows], generator)
                actor_loss = actor_loss + cfg.imitation_weight * (better * bc).mean()
                info["imitation_share"] = better.mean()
            if cfg.oob_penalty > 0 and cfg.action_squash == "clip":
                oob = F.relu(raw_mean.abs() - 1.0).pow(2).sum(-1)
                actor_loss = actor_loss + cfg.oob_penalty * oob.mean()
            self._step(self.actor_opt, actor_loss)
            self.critic.requires_grad_(True)
            if self.pruner is not None:
                self.pruner.end_update()
            log_prob = log_prob.detach()
            target_h = cfg.target_entropy(self.act_dim, progress)
            entropy = -log_prob
            if cfg.entropy_estimate == "chain":
                entropy = self.actor.chain_entropy(
                    obs[: cfg.entropy_states], generator, cfg.entropy_samples
                )
            if cfg.autotune_alpha:
                alpha_loss = (self.log_alpha * (entropy - target_h)).mean()
                self.alpha_opt.zero_grad(set_to_none=True)
                alpha_loss.backward()
                self.alpha_opt.step()
            self.n_actor_updates += 1
            if self.pruner is not None:
                self.pruner.step(progress)
            info.update(
                actor_loss=actor_loss.detach(),
                entropy=entropy.mean(),
                target_entropy=float(target_h),
            )
        # ---- targets ----------------------------------------------------------------------------
        self._polyak(self.critic, self.critic_target, cfg.tau)
        if cfg.eval_actor == "ema":
            if self.n_updates % cfg.actor_delay == 0:  # the actor changed in this update
                self._polyak(self.actor, self.actor_target, cfg.ema_tau)
        elif cfg.next_action_from == "target_actor":
            self._polyak(self.actor, self.actor_target, cfg.tau)
        return info

    @property
    def deployed_key(self) -> str:
        """Which actor evaluation and deployment use (``cfg.eval_actor``), by its attribute
        and ``training_state`` key: the trained one or its Polyak average (the target actor)."""
        return "actor_target" if self.cfg.eval_actor == "ema" else "actor"

    @property
    def deployed_actor(self) -> nn.Module:
        """The actor named by :attr:`deployed_key`."""
        return getattr(self, self.deployed_key)

    @torch.no_grad()
    def _polyak(self, src: nn.Module, dst: nn.Module, tau: float) -> None:
        src_p, dst_p = list(src.parameters()), list(dst.parameters())
        if len(src_p) != len(dst_p):
            raise RuntimeError("polyak: source and target networks differ")
        torch._foreach_lerp_(dst_p, src_p, tau)

    # ---- acting -------------------------------------------------------------------------------
    @torch.no_grad()
    def act(
        self, obs: torch.Tensor, generator: torch.Generator | None, mode: str = "sample"
    ) -> torch.Tensor:
        """Actions (B, act_dim) in [-1, 1] for obs (B, obs_dim)."""
        return self.actor.act(obs, generator, mode=mode, n=self.cfg.eval_samples)

    # ---- checkpointing ------------------------------------------------------------------------
    def training_state(self) -> dict:
        """Everything needed to continue training (tensors and plain Python values only).

        The full tensors are saved: a compact copy of the kept neurons is written back (and
        its optimiser group folded into the full parameters' state) first, then rebuilt."""
        compact = self.pruner.compact if self.pruner is not None else None
        if compact is not None and compact.active:
            compact.release()
            try:
                return self._training_state()
            finally:
                compact.acquire()
        return self._training_state()

    def _training_state(self) -> dict:
        return {
            "actor": self.actor.state_dict(),
            "actor_target": self.actor_target.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "actor_opt": self.actor_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "alpha_opt": self.alpha_opt.state_dict(),
            "n_updates": self.n_updates,
            "n_actor_updates": self.n_actor_updates,
            "pruner": self.pruner.state_dict() if self.pruner is not None else None,
        }

    def load_training_state(self, st: dict) -> None:
        compact = self.pruner.compact if self.pruner is not None else None
        if compact is not None:
            compact.release()
        self.actor.load_state_dict(st["actor"])
        self.actor_target.load_state_dict(st["actor_target"])
        self.critic.load_state_dict(st["critic"])
        self.critic_target.load_state_dict(st["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(st["log_alpha"])
        self.actor_opt.load_state_dict(st["actor_opt"])
        self.critic_opt.load_state_dict(st["critic_opt"])
        self.alpha_opt.load_state_dict(st["alpha_opt"])
        self.n_updates = int(st["n_updates"])
        self.n_actor_updates = int(st["n_actor_updates"])
        if self.pruner is not None and st.get("pruner") is not None:
            self.pruner.load_state_dict(st["pruner"])
        if compact is not None:
            compact.acquire()  # no-op while no neuron is masked
