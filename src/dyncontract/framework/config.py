"""The ``framework:`` section of a config file: the federated AI agent construction simulator.

Every default is documented in ``docs/framework.md``. Units: milliseconds for latencies,
megabits per second for link rates, bytes for data volumes.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The four kinds of agent module (paper: perception, memory, planning, action).
MODULE_KINDS: tuple[str, ...] = ("perception", "memory", "planning", "action")

#: Largest Monte-Carlo population accepted (memory: ~40 float arrays of this length).
MAX_N_ES = 5_000_000

#: Largest request stream accepted.
MAX_REQUESTS = 5_000_000

_FROZEN = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


Pos = Annotated[float, Field(gt=0.0)]
NonNeg = Annotated[float, Field(ge=0.0)]
#: A module share: every kind is needed for an agent, so each is in (0, 1].
Share = Annotated[float, Field(gt=0.0, le=1.0)]


class ModuleShares(BaseModel):
    """Probability that an ES's module (in a period) is of each kind; the four sum to 1."""

    model_config = _FROZEN

    perception: Share = 0.25
    memory: Share = 0.25
    planning: Share = 0.25
    action: Share = 0.25

    @model_validator(mode="after")
    def _sum(self) -> ModuleShares:
        s = math.fsum(self.as_tuple())
        if abs(s - 1.0) > 1e-9:
            raise ValueError(f"must sum to 1 (sums to {s:.12g})")
        return self

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.perception, self.memory, self.planning, self.action)


class LatencyConfig(BaseModel):
    """User-request latency model, edge deployment vs a cloud-centralised baseline.

    A latency is RTT + transfer of the request's raw input + inference (+ forwarding at the
    edge when the user's ES hosts no agent). RTTs and inference times are medians; each draw
    multiplies them by an independent lognormal factor exp(sigma Z), Z ~ N(0, 1).
    """

    model_config = _FROZEN

    n_requests: Annotated[int, Field(ge=1, le=MAX_REQUESTS)] = 20_000
    edge_rtt_ms: Pos = 10.0
    cloud_rtt_ms: Pos = 80.0
    rtt_sigma: NonNeg = 0.3
    edge_inference_ms: Pos = 35.0
    cloud_inference_ms: Pos = 25.0
    inference_sigma: NonNeg = 0.25
    request_bytes: NonNeg = 200_000.0
    edge_uplink_mbps: Pos = 200.0
    cloud_uplink_mbps: Pos = 50.0
    inter_es_rtt_ms: NonNeg = 5.0


class FrameworkConfig(BaseModel):
    """Monte-Carlo simulator of the federated AI agent construction framework."""

    model_config = _FROZEN

    #: Monte-Carlo population (number of simulated ESs); ``--n-es`` overrides it.
    n_es: Annotated[int, Field(ge=1, le=MAX_N_ES)] = 10_000
    #: Seed of the numpy Generator; ``--seed`` overrides it.
    seed: Annotated[int, Field(ge=0)] = 0
    #: Tie tolerance, relative to the scenario's payment scale: utilities within
    #: ``tie_tolerance * max(1, alpha ln(1 + beta T_max))`` of the best count as ties, and
    #: ties go to the truthful item; declining needs a utility below minus that amount. The
    #: scale is the CS's largest valuation of a module, fixed by the scenario (never by the
    #: menu); it is >= 1, so a contract that ``check`` calls feasible (absolute
    #: tolerance 1e-6) is followed truthfully by every ES.
    tie_tolerance: Annotated[float, Field(ge=0.0, le=1e-3)] = 1e-6
    #: Period-1 participation rule under ``per_period``: ``own_period`` = an ES accepts no
    #: period-1 item that loses it money in period 1 (model.md's U1 >= 0);
    #: ``forward_looking`` = it accepts if the item plus its continuation value is >= 0.
    period1_acceptance: Literal["own_period", "forward_looking"] = "own_period"
    module_shares: ModuleShares = ModuleShares()
    #: Agent quality from its four module qualities q = ln(1 + beta T).
    agent_quality: Literal["mean", "min", "geometric"] = "mean"
    #: Raw local data an ES processes per Gcycle of construction workload (bytes).
    data_bytes_per_gcycle: NonNeg = 25e6
    #: Size of one built module's parameters sent to the CS (bytes; not raw data).
    module_bytes: NonNeg = 50e6
    latency: LatencyConfig = LatencyConfig()
