"""dyncontract: two-period dynamic contracts for federated AI agent construction.

Layers (data flows one way, lower layers never import higher ones)::

    model        scenario, economics, contract, feasibility           (imports nothing above)
    solvers      exact convex programs, reference contracts, payments (model)
    env          gymnasium env, batched torch twin, held-out sets,
                 contract scoring of policies                         (model, solvers)
    framework    Monte-Carlo simulator of edge servers building modules (model, solvers)
    rl           domain-free library: diffusion actor, pruning, (E)DMSAC, collectors,
                 evaluators, run directory, trainer                   (nothing of dyncontract)
    config       the root config: sections of model, env, framework, rl
    experiments  composition (config -> env + evaluator + learner), methods registry,
                 runner, summary, figures                             (everything below)
    cli          the ``dyncontract`` command                          (everything below)

``dyncontract._io`` (stdlib-only atomic writes) is the base every layer may use.

Importing the package registers the gymnasium environment
``dyncontract/ContractDesign-v0`` (lazily: nothing heavy is imported here).
"""

from __future__ import annotations

__version__ = "0.1.0"


#: The contract env's gymnasium id (registered on ``import dyncontract``).
CONTRACT_ENV_ID = "dyncontract/ContractDesign-v0"


def _register_envs() -> None:
    try:
        import gymnasium as gym
    except ImportError:  # pragma: no cover - gymnasium is a hard dependency
        return
    if CONTRACT_ENV_ID not in gym.registry:
        gym.register(
            id=CONTRACT_ENV_ID, entry_point="dyncontract.env.contract_env:ContractDesignEnv"
        )


_register_envs()
