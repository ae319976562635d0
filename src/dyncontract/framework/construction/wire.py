"""What travels between the CS (ServerApp) and the ESs (ClientApps), typed at both ends.

* CS → ES: the global agent's arrays (``"arrays"``, an ArrayRecord) and an order (``"order"``,
  a ConfigRecord made from a pydantic model, validated again on arrival).
* ES → CS: the trained modules' arrays (``"arrays"``) and scalar metrics (``"metrics"``,
  a MetricRecord). Nothing else: no demonstration, mission, seed stream or optimizer state
  leaves an ES (``tests/test_construction.py`` records every reply and checks it).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from dyncontract.framework.construction.config import AgentSizes, Attribute

ARRAYS = "arrays"
ORDER = "order"
METRICS = "metrics"

#: Message types (Flower ``<kind>.<action>``; the ClientApp registers one handler each).
HELLO = "query.hello"
TRAIN = "train"
DEPLOY = "query.deploy"

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class DataSpec(BaseModel):
    """How an ES makes its private data (the same for every ES; each draws its own)."""

    model_config = _FROZEN

    levels: list[str]
    demos_per_es: int
    attribute: Attribute
    #: Dirichlet concentration (0 stands for IID: a ConfigRecord holds no null)
    concentration: float
    seed: int
    #: the ES's folder for its demonstrations ("" = none)
    data_cache: str = ""


class TrainOrder(BaseModel):
    """Round ``round`` of period ``period``: train ``modules`` for ``steps`` steps."""

    model_config = _FROZEN

    period: Annotated[int, Field(ge=1, le=2)]
    round: Annotated[int, Field(ge=1)]
    steps: Annotated[int, Field(ge=0)]
    modules: list[str]
    batch_episodes: int
    learning_rate: float
    max_grad_norm: float
    keep_optimizer_state: bool
    #: Fault injection for tests and experiments (``none`` in a normal run).
    fault: Literal["none", "raise", "exit"] = "none"
    # the data spec, flattened (a ConfigRecord is flat)
    levels: list[str]
    demos_per_es: int
    attribute: Attribute
    concentration: float
    seed: int
    data_cache: str = ""
    # the agent's sizes, flattened
    channels: int
    word_dim: int
    instr_dim: int
    fused_dim: int
    memory_dim: int
    head_dim: int
    film_layers: int
    heads: int
    ground_dim: int

    def data(self) -> DataSpec:
        return DataSpec(**{k: getattr(self, k) for k in DataSpec.model_fields})

    def sizes(self) -> AgentSizes:
        return AgentSizes(**{k: getattr(self, k) for k in AgentSizes.model_fields})


class DeployOrder(BaseModel):
    """Serve the integrated agent at the edge and measure its latency."""

    model_config = _FROZEN

    episodes: int
    levels: list[str]
    seed: int
    temperature: float
    channels: int
    word_dim: int
    instr_dim: int
    fused_dim: int
    memory_dim: int
    head_dim: int
    film_layers: int
    heads: int
    ground_dim: int

    def sizes(self) -> AgentSizes:
        return AgentSizes(**{k: getattr(self, k) for k in AgentSizes.model_fields})


def to_config_record(model: BaseModel):
    from flwr.app import ConfigRecord

    return ConfigRecord(model.model_dump())


def from_config_record(cls: type[BaseModel], record: Any) -> Any:
    return cls.model_validate({k: record[k] for k in record})


def to_array_record(weights: dict[str, np.ndarray]):
    from flwr.app import Array, ArrayRecord

    return ArrayRecord(
        {k: Array.from_numpy_ndarray(np.ascontiguousarray(v)) for k, v in weights.items()}
    )


def from_array_record(record: Any) -> OrderedDict[str, np.ndarray]:
    return OrderedDict((k, record[k].numpy()) for k in record)
