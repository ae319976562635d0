"""Env layer: the gymnasium contract-design env and its batched torch twin."""

from dyncontract.env.actions import action_dim, split_action
from dyncontract.env.batched import BatchedContractEnv
from dyncontract.env.contract_env import ContractDesignEnv
from dyncontract.env.distribution import EnvConfig, MarketStates, ScenarioDistribution
from dyncontract.env.heldout import HeldOutSet

__all__ = [
    "BatchedContractEnv",
    "ContractDesignEnv",
    "EnvConfig",
    "HeldOutSet",
    "MarketStates",
    "ScenarioDistribution",
    "action_dim",
    "split_action",
]
