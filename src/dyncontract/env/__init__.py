"""Env layer: the gymnasium contract-design env, its batched torch twin, the held-out market
states with their exact optima, and the contract scoring of policies.

Imports model and solvers; never rl, framework, experiments or cli.
"""

from dyncontract.env.actions import action_dim, split_action
from dyncontract.env.batched import BatchedContractEnv
from dyncontract.env.contract_env import ContractDesignEnv
from dyncontract.env.distribution import EnvConfig, MarketStates, ScenarioDistribution
from dyncontract.env.heldout import HeldOutSet
from dyncontract.env.scoring import (
    ContractEvaluator,
    ScoredPolicy,
    actor_policy,
    best_feasible,
    contract_eval_policy,
    noisy_sampler,
)

__all__ = [
    "BatchedContractEnv",
    "ContractDesignEnv",
    "ContractEvaluator",
    "ScoredPolicy",
    "actor_policy",
    "noisy_sampler",
    "EnvConfig",
    "HeldOutSet",
    "MarketStates",
    "ScenarioDistribution",
    "action_dim",
    "best_feasible",
    "contract_eval_policy",
    "split_action",
]
