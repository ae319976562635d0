"""The ``construction:`` section of a config file: real federated construction on Flower.

Pure pydantic (no torch, Flower or minigrid import), so every command can validate it.
Every default is documented in ``docs/construction.md``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_FROZEN = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

#: Most ESs a construction accepts (each is a Flower node with its own data).
MAX_CONSTRUCT_ES = 1000

Attribute = Literal["colour", "kind", "colour_kind"]


class AgentSizes(BaseModel):
    """Sizes of the agent's modules (docs/construction.md, "The agent")."""

    model_config = _FROZEN

    channels: Annotated[int, Field(ge=1, le=512)] = 16
    word_dim: Annotated[int, Field(ge=1, le=512)] = 32
    instr_dim: Annotated[int, Field(ge=1, le=1024)] = 64
    fused_dim: Annotated[int, Field(ge=1, le=2048)] = 128
    memory_dim: Annotated[int, Field(ge=1, le=2048)] = 128
    head_dim: Annotated[int, Field(ge=1, le=1024)] = 64
    film_layers: Annotated[int, Field(ge=0, le=8)] = 2
    #: grounding maps (0: none, a plain FiLM network)
    heads: Annotated[int, Field(ge=0, le=64)] = 4
    ground_dim: Annotated[int, Field(ge=1, le=256)] = 16


class FaultSpec(BaseModel):
    """Make ES ``es`` fail in round ``round`` of period ``period`` (tests, experiments).

    ``raise``: the ClientApp raises (Flower returns an error reply); ``exit``: its process
    exits mid-round (the simulation runtime reports the ES as failed).
    """

    model_config = _FROZEN

    es: Annotated[int, Field(ge=0)]
    period: Literal[1, 2]
    round: Annotated[int, Field(ge=1)] = 1
    mode: Literal["raise", "exit"] = "raise"


class ConstructionConfig(BaseModel):
    """Edge servers train the modules of a BabyAI agent on Flower, under a contract."""

    model_config = _FROZEN

    # ----- the task ----------------------------------------------------------------------
    #: BabyAI levels (minigrid ids); each ES's episodes and the held-out missions cycle over
    #: them.
    levels: Annotated[list[str], Field(min_length=1, max_length=32)] = ["BabyAI-GoToLocal-v0"]
    #: ESs in the construction (default: ``scenario.n_es``); ``--n-es`` overrides it.
    n_es: Annotated[int, Field(ge=1, le=MAX_CONSTRUCT_ES)] | None = None
    #: Seed of the market draws, the ESs' data and their training; ``--seed`` overrides it.
    seed: Annotated[int, Field(ge=0, lt=2**31)] = 0
    agent: AgentSizes = AgentSizes()

    # ----- each ES's private data --------------------------------------------------------
    #: Bot demonstrations each ES generates from its own seed stream (once, before period 1).
    demos_per_es: Annotated[int, Field(ge=1, le=100_000)] = 400
    #: A folder where each ES keeps its demonstrations between constructions (its local
    #: disk; experiments that run many constructions with the same seeds set it). ``null``:
    #: every construction generates them anew.
    data_cache: str | None = None
    #: The mission attribute whose mix differs between ESs.
    attribute: Attribute = "colour"
    #: Dirichlet concentration of each ES's mix over the attribute's values (small = each
    #: ES sees few values); ``null`` = IID (every ES sees the level's own distribution).
    concentration: Annotated[float, Field(gt=0.0, le=1e6)] | None = 0.5

    # ----- local training and aggregation ------------------------------------------------
    #: FL rounds per period; each ES's contracted steps are spread evenly over them.
    rounds_per_period: Annotated[int, Field(ge=1, le=1000)] = 8
    #: Episodes per behaviour-cloning step (the unit of work).
    batch_episodes: Annotated[int, Field(ge=1, le=4096)] = 16
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 1e-3
    max_grad_norm: Annotated[float, Field(ge=0.0)] = 1.0
    #: Keep each ES's Adam moments across rounds (local state, never sent to the CS).
    keep_optimizer_state: bool = True
    #: ``all``: every ES trains all four modules; ``one``: ES e trains module e mod 4 only
    #: (the others stay at the CS's version) and sends only that module.
    module_assignment: Literal["all", "one"] = "all"
    #: Server step on the work-weighted average: w <- w + lr * (avg - w) (+ momentum).
    server_learning_rate: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0
    server_momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0

    # ----- work accounting ---------------------------------------------------------------
    #: Gcycles of one training step; ``null`` = the machine's calibration record
    #: (``dyncontract construct --calibrate``; measured first if there is none).
    gcycles_per_step: Annotated[float, Field(gt=0.0, le=1e6)] | None = None
    #: CPU clock used to turn CPU seconds into cycles (GHz); ``null`` = /proc/cpuinfo.
    cpu_ghz: Annotated[float, Field(gt=0.0, le=100.0)] | None = None

    # ----- evaluation, value, deployment -------------------------------------------------
    #: Held-out (test) missions the CS evaluates each period's agent on.
    eval_missions: Annotated[int, Field(ge=1, le=100_000)] = 500
    #: How the agent acts: an action drawn from softmax(logits / temperature); 0 = always
    #: its most likely action. 1 = the distribution behaviour cloning fitted.
    temperature: Annotated[float, Field(ge=0.0, le=100.0)] = 1.0
    #: V: the CS's value of an agent of success rate q is V q per period (model.md §8);
    #: ``null`` = N alpha ln(1 + beta T_max), the additive model's value of N modules built
    #: at the largest workload.
    value_per_quality: Annotated[float, Field(gt=0.0, le=1e12)] | None = None
    #: Evaluate the reference agents (untrained, uniformly random, the bot) on the test
    #: missions at the start (sweeps switch it off and evaluate them once).
    references: bool = True
    #: Episodes the deployed agent runs at the edge to measure its latency.
    latency_episodes: Annotated[int, Field(ge=1, le=10_000)] = 50

    # ----- runtime -----------------------------------------------------------------------
    #: ``simulation``: Flower's simulation runtime (Ray, one CPU per ES actor);
    #: ``inprocess``: the same ServerApp and ClientApp objects called in this process.
    runtime: Literal["simulation", "inprocess"] = "simulation"
    #: CPUs Ray may use (``null``: all of this machine's).
    num_cpus: Annotated[int, Field(ge=1, le=4096)] | None = None
    faults: list[FaultSpec] = []

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[str]) -> list[str]:
        for lv in v:
            if not lv.startswith("BabyAI-"):
                raise ValueError(f"{lv!r} is not a BabyAI level (BabyAI-...)")
        if len(set(v)) != len(v):
            raise ValueError("a level is listed twice")
        return v
