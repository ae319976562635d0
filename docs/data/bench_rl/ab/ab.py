"""In-process A/B of one compiled piece (see results.txt): the same agent (both compile
options on) alternates rounds of 8 updates between arm "chain" (the piece's attribute set to
None: the eager path) and arm "obj" (the compiled piece); median ms per update per arm.

    PYTHONPATH=src python docs/data/bench_rl/ab/ab.py objective|critic ALGO ROUNDS [ramp]

objective: ``EDMSAC.compiled_objective`` (the actor objective); critic:
``EDMSAC.compiled_critic_objective``. ramp: masks 0 -> 20 % -> 50 % before timing, as in
training (the compiled actor objective then runs its dynamic-shape graph).
"""

import statistics
import sys
import time

import torch

sys.path.insert(0, "benchmarks")
from bench_rl import _batches  # noqa: E402

from dyncontract.config import load_config  # noqa: E402
from dyncontract.env import BatchedContractEnv  # noqa: E402
from dyncontract.rl import edmsac as E  # noqa: E402

piece, algo, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
attr = {"objective": "compiled_objective", "critic": "compiled_critic_objective"}[piece]
cfg = load_config(None)
env = BatchedContractEnv(cfg.scenario_obj(), cfg.env)
batches = _batches(cfg.rl, env.obs_dim, env.act_dim)
gen = torch.Generator().manual_seed(1)
torch.manual_seed(0)
upd = {"algo": algo, "compile_critic": True, "compile_chain": True}
ag = E.EDMSAC(cfg.rl.model_copy(update=upd), env.obs_dim, env.act_dim)


def run(n: int) -> None:
    for i in range(n):
        ag.update(batches[i % 4], gen, 0.6)


if ag.pruner is not None:
    if "ramp" in sys.argv[4:]:
        run(20)
        ag.pruner.apply_ratio(0.2)
        run(20)
    ag.pruner.apply_ratio(ag.pruner.target_ratio)
arms = {"chain": None, "obj": getattr(ag, attr)}
for k in arms:  # warm-up (and compilation) of both arms
    setattr(ag, attr, arms[k])
    run(40)
times: dict[str, list[float]] = {k: [] for k in arms}
for r in range(rounds):
    for k in list(arms) if r % 2 else list(arms)[::-1]:
        setattr(ag, attr, arms[k])
        t = time.perf_counter()
        run(8)
        times[k].append((time.perf_counter() - t) / 8 * 1000)
m = {k: statistics.median(v) for k, v in times.items()}
speedup = round(m["chain"] / m["obj"], 4)
print(algo, {k: round(v, 3) for k, v in m.items()}, "speedup", speedup, flush=True)
