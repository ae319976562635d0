"""dyncontract: two-period dynamic contracts for federated AI agent construction.

Layers (data flows one way, lower layers never import higher ones)::

    model      scenario, economics, contract, feasibility
    solvers    exact convex programs, reference contracts, least payments
    env        gymnasium environment and its batched torch twin
    rl         diffusion actor, pruning, (E)DMSAC, trainer
    framework  Monte-Carlo simulator of edge servers building modules
    experiments runner, baselines, figures
    cli        the ``dyncontract`` command

Importing the package registers the gymnasium environment
``dyncontract/ContractDesign-v0`` (lazily: nothing heavy is imported here).
"""

from __future__ import annotations

__version__ = "0.1.0"


def _register_envs() -> None:
    try:
        import gymnasium as gym
    except ImportError:  # pragma: no cover - gymnasium is a hard dependency
        return
    env_id = "dyncontract/ContractDesign-v0"
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point="dyncontract.env.contract_env:ContractDesignEnv")


_register_envs()
