"""Model layer: scenario, economics, contract, feasibility (model.md)."""

from dyncontract.model.contract import Contract, ContractFormatError, expected_profit, utilities
from dyncontract.model.feasibility import FeasibilityReport, Violation, check_feasibility
from dyncontract.model.scenario import (
    Scenario,
    ScenarioConfig,
    persistence_matrix,
    persistence_of,
)

__all__ = [
    "Contract",
    "ContractFormatError",
    "FeasibilityReport",
    "Scenario",
    "ScenarioConfig",
    "Violation",
    "check_feasibility",
    "expected_profit",
    "persistence_matrix",
    "persistence_of",
    "utilities",
]
