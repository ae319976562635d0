"""One paired measurement (see paired.sh): median ms per DMSAC/EDMSAC update at actor width W,
batches as in benchmarks/bench_rl.py, 14 rounds of 8 updates, the first 2 warm-up
(``DM_ROUNDS=N``: N rounds instead of 14, the first 2 still warm-up; ``DM_PRINT_ROUNDS=1``:
also print every round's ms per update).

    python dm.py TAG ALGO W REPO_ROOT [compile | compile_all] [--ramp]
"""

import os
import statistics
import sys
import time

import torch

sys.path.insert(0, sys.argv[4] + "/benchmarks")
from bench_rl import _batches  # noqa: E402

from dyncontract.config import load_config  # noqa: E402
from dyncontract.env import BatchedContractEnv  # noqa: E402
from dyncontract.rl.edmsac import EDMSAC  # noqa: E402

tag, algo, width = sys.argv[1], sys.argv[2], int(sys.argv[3])
mode = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "--ramp" else "eager"
cfg = load_config(None)
env = BatchedContractEnv(cfg.scenario_obj(), cfg.env)
batches = _batches(cfg.rl, env.obs_dim, env.act_dim)
gen = torch.Generator().manual_seed(1)
torch.manual_seed(0)
upd = {"algo": algo, "actor_hidden": width}
if mode in ("compile", "compile_all"):
    upd["compile_critic"] = True
    tag += "+compile"
if mode == "compile_all":
    upd["compile_chain"] = True
    tag += "+chain"
ag = EDMSAC(cfg.rl.model_copy(update=upd), env.obs_dim, env.act_dim)
if ag.pruner is not None:
    if "--ramp" in sys.argv:  # as in training: masks at 20 % first, then the target ratio
        for i in range(8):  # (a compiled actor objective then runs its dynamic-shape graph)
            ag.update(batches[i % 4], gen, 0.6)
        ag.pruner.apply_ratio(0.2)
        for i in range(8):
            ag.update(batches[i % 4], gen, 0.6)
    ag.pruner.apply_ratio(ag.pruner.target_ratio)
times, every = [], []
for r in range(int(os.environ.get("DM_ROUNDS", "14"))):
    t = time.perf_counter()
    for i in range(8):
        ag.update(batches[i % 4], gen, 0.6)
    every.append(round((time.perf_counter() - t) / 8 * 1000, 2))
    if r >= 2:
        times.append((time.perf_counter() - t) / 8 * 1000)
print(tag, algo, width, f"{statistics.median(times):.3f}", flush=True)
if os.environ.get("DM_PRINT_ROUNDS") == "1":
    print("rounds", tag, algo, every, flush=True)
