"""rl: a small, domain-free library — diffusion actor, dynamic structured pruning, (E)DMSAC,
replay buffer, collectors, evaluators, run directory and trainer.

Like Stable-Baselines3's algorithms, nothing here knows which environment it trains on: it may
import torch, numpy, gymnasium, pydantic, tqdm, its own modules and ``dyncontract._io``
(stdlib-only atomic writes), and nothing else of dyncontract. The application hands the
trainer its parts (collector, evaluator, run directory, budget); dyncontract's wiring lives in
:mod:`dyncontract.experiments.composition`.

Modules: ``config`` (RLConfig), ``budget`` (Budget), ``diffusion`` (DiffusionActor),
``gaussian`` (GaussianActor, the ``gsac`` actor),
``networks`` (critics), ``pruning`` (DynamicPruner, compaction), ``edmsac`` (the update),
``buffer`` (Batch, ReplayBuffer), ``collectors``, ``evaluators``, ``rundir`` (files,
checkpoints, RunError), ``trainer``, ``evaluation`` (load, act, time a trained actor).
Nothing is imported here, so ``import dyncontract.rl.config`` stays cheap.
"""
