"""The ``rl:`` config section (pydantic): every knob of (E)DMSAC and its trainer.

DMSAC is EDMSAC with pruning off (``prune_target: 0``); ``dyncontract train --algo dmsac``
sets that. GSAC (``--algo gsac``) is the same learner with a Gaussian actor instead of the
diffusion actor (:mod:`dyncontract.rl.gaussian`): the diffusion fields (``diffusion_steps``,
``beta_*``, ``time_embed_dim``) and the pruning fields are ignored, everything else is shared.
Constraints are declared on the fields; the model validator checks only what
involves several fields. Defaults are tuned for the contract env (one-step episodes, a cheap batched
torch env): many samples per second, large batches, a wide denoiser, a cosine learning-rate
decay and a noise-free action for evaluation. See docs/edmsac.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Algo = Literal["edmsac", "dmsac", "gsac"]
Importance = Literal["taylor", "magnitude", "activation", "gradient"]
EntropyEstimate = Literal["last_step", "chain"]
EvalAction = Literal["deterministic", "mean", "sample", "best_feasible"]
LRSchedule = Literal["constant", "cosine", "linear"]
CriticLoss = Literal["mse", "huber"]
Squash = Literal["clip", "tanh"]
NextAction = Literal["actor", "target_actor"]
EvalActor = Literal["actor", "ema"]
Activation = Literal["mish", "relu", "silu"]

PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0.0)]
NonNegFloat = Annotated[float, Field(ge=0.0)]  # 0 = off where the field says so
UnitFloat = Annotated[float, Field(ge=0.0, le=1.0)]


class RLConfig(BaseModel):
    """Hyper-parameters of (E)DMSAC and the trainer (config section ``rl``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    # --- what to train on --------------------------------------------------------------------
    algo: Algo = "edmsac"
    #: gymnasium id of the env to train on (None: the application's default env; in
    #: dyncontract the contract env dyncontract/ContractDesign-v0)
    env_id: Annotated[str, Field(min_length=1, pattern=r"\S")] | None = None
    num_envs: PosInt = 256  # environment samples collected per iteration (batched env)
    actions_per_state: PosInt = 8  # batched one-step envs: policy samples per drawn state (M)
    #: M > 1: weight of the group-centred critic loss (see docs/edmsac.md), 0 = off
    critic_center_weight: NonNegFloat = 10.0
    explore_noise: NonNegFloat = (
        0.0  # extra Gaussian action noise (std) when collecting (DACER-like)
    )
    #: M > 1: weight of the self-imitation term (tried in docs/notes/menu_mode_rent.md): the
    #: actor also learns to generate, by its own denoising loss, the best of a state's M
    #: stored actions (by their critic target) wherever that action's target beats the
    #: critic's value of the actor's current action for the state (0 = off)
    imitation_weight: NonNegFloat = 0.0
    #: share of collected actions in which one random coordinate is redrawn uniformly in
    #: [-1, 1] (coordinate exploration; 0 = off)
    explore_coordinate: UnitFloat = 0.0
    gamma: UnitFloat = 0.99  # irrelevant for one-step episodes (every transition is terminal)

    # --- diffusion actor ---------------------------------------------------------------------
    diffusion_steps: PosInt = 5
    beta_min: PosFloat = 0.1  # VP schedule (Diffusion-QL): beta_t from beta_min to beta_max
    beta_max: PosFloat = 10.0
    actor_hidden: PosInt = 128
    actor_layers: PosInt = 3
    actor_activation: Activation = "mish"  # of the denoiser's hidden layers
    time_embed_dim: PosInt = 16
    state_embed_dim: PosInt = 64
    log_std_min: float = -7.0  # last-step Gaussian head (entropy estimator), log sigma bounds
    log_std_max: float = 0.0
    #: how the last-step Gaussian sample is mapped into [-1, 1]: "clip" (clamp; the entropy
    #: estimate ignores it and saturated samples get no gradient) or "tanh" (SAC's squashing
    #: with the log-det correction in log pi; see docs/notes/gym_multistep.md)
    action_squash: Squash = "clip"
    #: bound of the intermediate x0 predictions of the reverse chain, |x0| <= x0_clip, in the
    #: space the chain lives in (None: 1 with ``clip``, 3 with ``tanh``, where the chain lives
    #: before the squashing and tanh(1) = 0.76 would keep every step but the last away from
    #: the box's edges; see docs/notes/gym_multistep.md)
    x0_clip: PosFloat | None = None
    #: weight of the penalty E[relu(|m| - 1)^2] on a last-step mean m outside the action box
    #: (clip squashing only; tanh keeps every mean inside)
    oob_penalty: Annotated[float, Field(ge=0.0)] = 0.01

    # --- critics -----------------------------------------------------------------------------
    critic_hidden: PosInt = 256
    critic_layers: PosInt = 3
    critic_layer_norm: bool = True  # LayerNorm after each hidden layer of both critics
    critic_activation: Activation = "mish"
    #: torch.compile both critics and their loss (inductor; edmsac.critic_objective): on a CPU
    #: it fuses LayerNorm, Mish, the loss and their backward into a few loops (see
    #: docs/notes/edmsac_speed_and_ablations.md); the first updates wait ~10-30 s for the
    #: compilation (a C++ compiler is needed on a CPU). Off by default: short runs and the
    #: tests would pay the wait
    compile_critic: bool = False
    #: torch.compile the diffusion actor's update objective as one graph: state encoding,
    #: step embeddings, the reverse chain, the last step, the critic's value of the action
    #: and the loss (edmsac.actor_objective; noises drawn eagerly in the same order). Not in
    #: the updates where the pruner's probe records, nor with ``imitation_weight`` > 0
    compile_chain: bool = False
    #: with either compile option: inductor's C++ wrapper (``cpp_wrapper``) calls the
    #: compiled kernels from C++ instead of Python — the same kernels and numbers, less
    #: per-kernel overhead (~1-6 % per update at the default sizes, docs/notes/), ~30 s
    #: more compilation in a process that has not compiled the graph before
    compile_cpp_wrapper: bool = True

    # --- optimisation ------------------------------------------------------------------------
    actor_lr: PosFloat = 1e-3
    critic_lr: PosFloat = 2e-3
    alpha_lr: PosFloat = 3e-3
    lr_schedule: LRSchedule = "cosine"
    lr_final_frac: UnitFloat = 0.05  # final learning rate = lr * lr_final_frac
    batch_size: PosInt = 256  # critic batch
    actor_batch_size: int | None = None  # actor/temperature batch (a prefix; None: batch_size)
    updates_per_iter: PosInt = 4  # gradient updates per collected batch of num_envs samples
    actor_delay: PosInt = 1  # actor/temperature update every this many critic updates
    #: replay capacity in transitions, allocated up front (obs_dim 7, act_dim 60: ~0.5 KB
    #: each); the bound stops a typo from asking for hundreds of GB
    buffer_size: Annotated[int, Field(ge=1, le=50_000_000)] = 200_000
    learning_starts: NonNegInt = 4096
    tau: UnitFloat = 0.005  # Polyak rate of the target networks
    #: who samples a' ~ pi(.|s') in the soft Bellman target: the current actor (SAC) or the
    #: Polyak-averaged target actor (its Polyak update runs only in the latter case)
    next_action_from: NextAction = "actor"
    grad_clip: NonNegFloat = 10.0  # max gradient norm (0 = off)
    reward_scale: PosFloat = 1.0  # multiplies env rewards before the critic sees them
    critic_loss: CriticLoss = "mse"
    #: one-step envs (all transitions terminal): winsorise rewards from below at this
    #: quantile of each batch before the critic sees them (None: off). Bounds the pull of
    #: rare, huge penalties (the contract env's non-implementable workloads) on the critic
    #: fit while keeping them the worst outcomes.
    reward_clip_quantile: Annotated[float, Field(gt=0.0, lt=0.5)] | None = 0.1
    #: M > 1: also raise rewards more than this far below their state's median (over the M
    #: actions) to that level (None: off; tried as default, it made the policy drift into
    #: infeasible contracts, see docs/edmsac.md)
    reward_clip_margin: PosFloat | None = None
    huber_delta: PosFloat = 0.1  # critic_loss = huber: quadratic within +-delta, linear outside

    # --- soft objective ----------------------------------------------------------------------
    init_alpha: PosFloat = 0.001
    autotune_alpha: bool = True
    target_entropy_per_dim: float = -1.0  # target entropy = this * act_dim, annealed to ...
    target_entropy_final_per_dim: float | None = -2.0  # ... this by the end of training
    #: what the temperature tuning compares with the target entropy: "last_step" (the
    #: last-step Gaussian's entropy given x_1, a lower bound of the policy's) or "chain"
    #: (a Gaussian fit to the policy's whole action distribution per state, from
    #: ``entropy_samples`` chains on ``entropy_states`` states, an upper bound); the soft
    #: objective's log pi is the last-step density either way (see docs/edmsac.md)
    entropy_estimate: EntropyEstimate = "last_step"
    entropy_samples: Annotated[int, Field(ge=2)] = 8
    entropy_states: PosInt = 32

    # --- dynamic structured pruning (EDMSAC) -------------------------------------------------
    prune_target: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.5  # fraction of neurons masked
    prune_importance: Importance = "taylor"  # see rl/pruning.py
    prune_interval: PosInt = 200  # recompute masks every M actor updates
    #: data-driven importance: probe (record) every this many actor updates; the running
    #: scores' memory in updates does not depend on it (see rl/pruning.py)
    prune_probe_every: PosInt = 16
    #: train the kept neurons as a compact dense copy between mask recomputations (True), or
    #: slice them out of the full weights at every chain (False); the same function and
    #: gradients, except that masked weights and their Adam moments are frozen while masked.
    #: Only with the trained actor deployed and sampling a' (eval_actor: actor,
    #: next_action_from: actor): a Polyak-averaged target actor reads the full weights at
    #: every update, so with it the slicing is used
    prune_compact: bool = True
    prune_start_frac: float = 0.05  # ratio ramps 0 -> target between these fractions
    prune_end_frac: float = 0.5  # of the horizon (cubic schedule, Zhu & Gupta 2017)

    # --- evaluation / logging ----------------------------------------------------------------
    #: evaluation action on generic envs (the contract env is scored by its own protocol:
    #: single action + best of 16). "best_feasible" is an application's selection rule; the
    #: library treats it as "mean".
    eval_action: EvalAction = "deterministic"
    #: which weights evaluation, the checkpoint's deployed policy and ``evaluate`` use: the
    #: trained "actor", or "ema", its Polyak average at rate ``ema_tau`` per actor update (as
    #: Diffusion-QL samples from an EMA of its diffusion actor; the average lives in the
    #: target actor, whose Polyak update then runs at that rate). Collection always samples
    #: from the trained actor.
    eval_actor: EvalActor = "actor"
    ema_tau: UnitFloat = 0.001  # Diffusion-QL: EMA decay 0.995 every 5 steps, ~0.001 a step
    eval_samples: PosInt = 8  # samples averaged ("mean") or extra candidates ("best_feasible")
    eval_every_steps: PosInt = 30_000  # a metrics row (with a held-out evaluation) every N steps
    eval_episodes: PosInt = 10  # generic gym envs: episodes per evaluation
    checkpoint_every_steps: PosInt = 300_000  # checkpoint at the first metrics row past each N
    total_steps: PosInt = (
        2_000_000  # default budget when neither --steps nor --max-minutes is given
    )
    vector_envs: PosInt = 1  # generic gymnasium envs: copies stepped per iteration

    @model_validator(mode="after")
    def _consistent(self) -> RLConfig:
        if (
            self.pruning
            and self.prune_importance != "magnitude"
            and self.actor_activation != "mish"
        ):
            raise ValueError(
                f"prune_importance: {self.prune_importance!r} scores neurons through Mish; with "
                f"actor_activation {self.actor_activation!r} use 'magnitude'"
            )
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
        """Whether the denoiser is pruned (EDMSAC) or dense (DMSAC; GSAC has no denoiser)."""
        return self.algo == "edmsac" and self.prune_target > 0.0

    @property
    def x0_clip_value(self) -> float:
        """The reverse chain's x0 bound actually used (``x0_clip`` or its squash default)."""
        if self.x0_clip is not None:
            return self.x0_clip
        return 3.0 if self.action_squash == "tanh" else 1.0

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
