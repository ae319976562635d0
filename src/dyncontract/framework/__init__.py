"""Framework layer: Monte-Carlo simulator of federated AI agent construction (docs/framework.md).

Imports the model and solvers layers only.
"""

from dyncontract.framework.behaviour import DECLINE, ChoiceTables, choice_tables
from dyncontract.framework.config import (
    MODULE_KINDS,
    FrameworkConfig,
    LatencyConfig,
    ModuleShares,
)
from dyncontract.framework.simulator import (
    SimulationResult,
    behavioural_expected_profit,
    sample_types,
    simulate,
)

__all__ = [
    "DECLINE",
    "MODULE_KINDS",
    "ChoiceTables",
    "FrameworkConfig",
    "LatencyConfig",
    "ModuleShares",
    "SimulationResult",
    "behavioural_expected_profit",
    "choice_tables",
    "sample_types",
    "simulate",
]
