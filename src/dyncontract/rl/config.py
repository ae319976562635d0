"""The ``rl:`` config section (pydantic): every knob of (E)DMSAC and its trainer.

DMSAC is EDMSAC with pruning off (``prune_target: 0``); ``dyncontract train --algo dmsac``
sets that. Defaults are tuned for the contract env (one-step episodes, a cheap batched
torch env): many samples per second, large batches, a wide denoiser, a cosine learning-rate
decay and a noise-free action for evaluation. See docs/edmsac.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Algo = Literal["edmsac", "dmsac"]
Importance = Literal["magnitude", "activation", "gradient"]
EvalAction = Literal["deterministic", "mean", "sample", "best_feasible"]
LRSchedule = Literal["constant", "cosine", "linear"]
CriticLoss = Literal["mse", "huber"]
Squash = Literal["clip", "tanh"]
NextAction = Literal["actor", "target_actor"]
Activation = Literal["mish", "relu", "silu"]

#: The project's own environment id (registered on ``import dyncontract``).
CONTRACT_ENV_ID = "dyncontract/ContractDesign-v0"


class RLConfig(BaseModel):
    """Hyper-parameters of (E)DMSAC and the trainer (config section ``rl``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    # --- what to train on --------------------------------------------------------------------
    algo: Algo = "edmsac"
    env_id: str = CONTRACT_ENV_ID
    num_envs: int = 256  # environment samples collected per iteration (batched env)
    actions_per_state: int = 8  # batched one-step envs: policy samples per drawn state (M)
    #: M > 1: weight of the group-centred critic loss (see docs/edmsac.md), 0 = off
    critic_center_weight: float = 10.0
    explore_noise: float = 0.0  # extra Gaussian action noise (std) when collecting (DACER-like)
    gamma: float = 0.99  # irrelevant for one-step episodes (every transition is terminal)

    # --- diffusion actor ---------------------------------------------------------------------
    diffusion_steps: int = 5
    beta_min: float = 0.1  # VP schedule (Diffusion-QL): beta_t from beta_min to beta_max
    beta_max: float = 10.0
    actor_hidden: int = 128
    actor_layers: int = 3
    actor_activation: Activation = "mish"  # of the denoiser's hidden layers
    time_embed_dim: int = 16
    state_embed_dim: int = 64
    log_std_min: float = -7.0  # last-step Gaussian head (entropy estimator), log sigma bounds
    log_std_max: float = 0.0
    #: how the last-step Gaussian sample is mapped into [-1, 1]: "clip" (clamp; the entropy
    #: estimate ignores it and saturated samples get no gradient) or "tanh" (SAC's squashing
    #: with the log-det correction in log pi; see docs/edmsac.md, multi-step environments)
    action_squash: Squash = "clip"
    #: weight of the penalty E[relu(|m| - 1)^2] on a last-step mean m outside the action box
    #: (clip squashing only; tanh keeps every mean inside)
    oob_penalty: Annotated[float, Field(ge=0.0)] = 0.01

    # --- critics -----------------------------------------------------------------------------
    critic_hidden: int = 256
    critic_layers: int = 3
    critic_layer_norm: bool = True  # LayerNorm after each hidden layer of both critics
    critic_activation: Activation = "mish"

    # --- optimisation ------------------------------------------------------------------------
    actor_lr: float = 1e-3
    critic_lr: float = 2e-3
    alpha_lr: float = 3e-3
    lr_schedule: LRSchedule = "cosine"
    lr_final_frac: float = 0.05  # final learning rate = lr * lr_final_frac
    batch_size: int = 256  # critic batch
    actor_batch_size: int | None = None  # actor/temperature batch (a prefix; None: batch_size)
    updates_per_iter: int = 4  # gradient updates per collected batch of num_envs samples
    actor_delay: int = 1  # actor/temperature update every this many critic updates
    buffer_size: int = 200_000
    learning_starts: int = 4096
    tau: float = 0.005  # Polyak rate of the target networks
    #: who samples a' ~ pi(.|s') in the soft Bellman target: the current actor (SAC) or the
    #: Polyak-averaged target actor (its Polyak update runs only in the latter case)
    next_action_from: NextAction = "actor"
    grad_clip: float = 10.0  # max gradient norm (0 = off)
    reward_scale: float = 1.0  # multiplies env rewards before the critic sees them
    critic_loss: CriticLoss = "mse"
    #: one-step envs (all transitions terminal): winsorise rewards from below at this
    #: quantile of each batch before the critic sees them (None: off). Bounds the pull of
    #: rare, huge penalties (the contract env's non-implementable workloads) on the critic
    #: fit while keeping them the worst outcomes.
    reward_clip_quantile: float | None = 0.1
    #: M > 1: also raise rewards more than this far below their state's median (over the M
    #: actions) to that level (None: off; tried as default, it made the policy drift into
    #: infeasible contracts, see docs/edmsac.md)
    reward_clip_margin: float | None = None
    huber_delta: float = 0.1  # critic_loss = huber: quadratic within +-delta, linear outside

    # --- soft objective ----------------------------------------------------------------------
    init_alpha: float = 0.001
    autotune_alpha: bool = True
    target_entropy_per_dim: float = -1.0  # target entropy = this * act_dim, annealed to ...
    target_entropy_final_per_dim: float | None = -2.0  # ... this by the end of training

    # --- dynamic structured pruning (EDMSAC) -------------------------------------------------
    prune_target: float = 0.5
    prune_importance: Importance = "magnitude"
    prune_interval: int = 200  # recompute masks every M actor updates
    prune_start_frac: float = 0.05  # ratio ramps 0 -> target between these fractions
    prune_end_frac: float = 0.5  # of the horizon (cubic schedule, Zhu & Gupta 2017)

    # --- evaluation / logging ----------------------------------------------------------------
    #: "best_feasible" (contract env): among the mean action, the noise-free chain and
    #: eval_samples sampled contracts, deploy the feasible one with the highest CS profit (the
    #: CS knows its own profit and the IR/IC constraints); on other envs it acts as "mean".
    eval_action: EvalAction = "best_feasible"
    eval_samples: int = 8  # samples averaged ("mean") or extra candidates ("best_feasible")
    eval_every_steps: int = 30_000  # a metrics row (with a held-out evaluation) every N steps
    eval_episodes: int = 10  # generic gym envs: episodes per evaluation
    checkpoint_every_steps: int = 300_000  # checkpoint at the first metrics row past each N
    total_steps: int = 2_000_000  # default budget when neither --steps nor --max-minutes is given
    vector_envs: int = 1  # generic gymnasium envs: copies stepped per iteration

    @field_validator(
        "num_envs",
        "actions_per_state",
        "diffusion_steps",
        "actor_hidden",
        "actor_layers",
        "time_embed_dim",
        "state_embed_dim",
        "critic_hidden",
        "critic_layers",
        "batch_size",
        "updates_per_iter",
        "actor_delay",
        "buffer_size",
        "prune_interval",
        "eval_samples",
        "eval_every_steps",
        "eval_episodes",
        "checkpoint_every_steps",
        "total_steps",
        "vector_envs",
    )
    @classmethod
    def _positive_int(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"must be >= 1, got {v}")
        return v

    @field_validator("learning_starts")
    @classmethod
    def _nonneg_int(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"must be >= 0, got {v}")
        return v

    @field_validator(
        "beta_min",
        "beta_max",
        "actor_lr",
        "critic_lr",
        "alpha_lr",
        "init_alpha",
        "reward_scale",
        "huber_delta",
    )
    @classmethod
    def _positive_float(cls, v: float) -> float:
        if v <= 0:
            raise ValueError(f"must be > 0, got {v}")
        return v

    @field_validator("gamma", "tau", "lr_final_frac")
    @classmethod
    def _unit(cls, v: float) -> float:
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"must be in [0, 1], got {v}")
        return v

    @field_validator("reward_clip_quantile")
    @classmethod
    def _quantile(cls, v: float | None) -> float | None:
        if v is not None and not 0.0 < v < 0.5:
            raise ValueError(f"must be in (0, 0.5) or null, got {v}")
        return v

    @field_validator("prune_target")
    @classmethod
    def _prune_target(cls, v: float) -> float:
        if not 0.0 <= v < 1.0:
            raise ValueError(f"must be in [0, 1) (the fraction of hidden neurons masked), got {v}")
        return v

    @field_validator("reward_clip_margin")
    @classmethod
    def _margin(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError(f"must be > 0 or null, got {v}")
        return v

    @field_validator("grad_clip", "critic_center_weight", "explore_noise")
    @classmethod
    def _grad_clip(cls, v: float) -> float:
        if v < 0:
            raise ValueError(f"must be >= 0 (0 = off), got {v}")
        return v

    @field_validator("env_id")
    @classmethod
    def _env_id(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must be a non-empty gymnasium id")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> RLConfig:
        if self.beta_max <= self.beta_min:
            raise ValueError(f"beta_max: must be > beta_min ({self.beta_min}), got {self.beta_max}")
        if self.log_std_max <= self.log_std_min:
            raise ValueError(
                f"log_std_max: must be > log_std_min ({self.log_std_min}), got {self.log_std_max}"
            )
        if not 0.0 <= self.prune_start_frac <= self.prune_end_frac <= 1.0:
            raise ValueError(
                "prune_end_frac: need 0 <= prune_start_frac <= prune_end_frac <= 1, got "
                f"{self.prune_start_frac} and {self.prune_end_frac}"
            )
        if self.actor_batch_size is not None and not 1 <= self.actor_batch_size <= self.batch_size:
            raise ValueError(
                f"actor_batch_size: must be in [1, batch_size={self.batch_size}], "
                f"got {self.actor_batch_size}"
            )
        if self.num_envs % self.actions_per_state:
            raise ValueError(
                f"actions_per_state: must divide num_envs ({self.num_envs}), "
                f"got {self.actions_per_state}"
            )
        if self.batch_size % self.actions_per_state:
            raise ValueError(
                f"actions_per_state: must divide batch_size ({self.batch_size}), "
                f"got {self.actions_per_state}"
            )
        if self.batch_size > self.buffer_size:
            raise ValueError(
                f"batch_size: must be <= buffer_size ({self.buffer_size}), got {self.batch_size}"
            )
        return self

    @property
    def pruning(self) -> bool:
        """Whether the denoiser is pruned (EDMSAC) or dense (DMSAC)."""
        return self.algo == "edmsac" and self.prune_target > 0.0

    def target_entropy(self, act_dim: int, progress: float) -> float:
        """Target entropy at training progress in [0, 1] (linear anneal per dimension)."""
        start = self.target_entropy_per_dim
        end = (
            start
            if self.target_entropy_final_per_dim is None
            else self.target_entropy_final_per_dim
        )
        p = min(max(progress, 0.0), 1.0)
        return act_dim * (start + (end - start) * p)
