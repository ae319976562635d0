"""Where EDMSAC's update time goes at actor_hidden=512, 50 % pruned, 1 thread.

    PYTHONPATH=src python docs/data/bench_rl/probe_profile/profile_probe.py

Process CPU time per update (median of rounds, interleaved) for DMSAC (512 wide), EDMSAC as
configured (importance probe every 4th actor update), EDMSAC with the probe off, and DMSAC
born at the kept width (256, the ceiling); then the cost of one probed update and of
``DynamicPruner.probe_scores`` alone, and a torch.profiler table of ``probe_scores``.
Batches as in benchmarks/bench_rl.py (default rl config: 32 states x 8 actions).
"""

import statistics
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "benchmarks"))
from bench_rl import _batches  # noqa: E402

from dyncontract.config import load_config  # noqa: E402
from dyncontract.env import BatchedContractEnv  # noqa: E402
from dyncontract.rl.edmsac import EDMSAC  # noqa: E402

torch.set_num_threads(1)
cfg = load_config(None)
env = BatchedContractEnv(cfg.scenario_obj(), cfg.env)
rl, o, a = cfg.rl, env.obs_dim, env.act_dim
batches = _batches(rl, o, a)
gen = torch.Generator().manual_seed(1)


def agent(**upd) -> EDMSAC:
    torch.manual_seed(0)
    ag = EDMSAC(rl.model_copy(update=upd), o, a)
    if ag.pruner is not None:
        ag.pruner.apply_ratio(0.5)
    return ag


def probe_off(ag: EDMSAC) -> EDMSAC:
    ag.pruner.probe_every, ag.pruner._updates = 10**9, 1
    return ag


agents = {
    "dmsac_512": agent(algo="dmsac", actor_hidden=512),
    "edmsac_512": agent(algo="edmsac", actor_hidden=512),
    "edmsac_512_probe_off": probe_off(agent(algo="edmsac", actor_hidden=512)),
    "dmsac_256 (ceiling)": agent(algo="dmsac", actor_hidden=256),
}
times: dict[str, list[float]] = {k: [] for k in agents}
for r in range(12):
    for k, ag in agents.items() if r % 2 else reversed(list(agents.items())):
        t = time.process_time()
        for i in range(8):
            ag.update(batches[i % 4], gen, 0.6)
        if r >= 2:
            times[k].append((time.process_time() - t) / 8 * 1000)
med = {k: statistics.median(v) for k, v in times.items()}
for k, v in med.items():
    print(f"{k:24s} {v:6.2f} ms/update  DMSAC/this {med['dmsac_512'] / v:.3f}")

ag = agents["edmsac_512"]
ag.pruner.probe_every = 1  # every actor update is probed
spent, recs_box = [0.0], []
inner = ag.pruner.probe_scores


def timed(recs):
    recs_box.append(recs)
    t = time.process_time()
    out = inner(recs)
    spent[0] += time.process_time() - t
    return out


ag.pruner.probe_scores = timed
t = time.process_time()
for i in range(24):
    ag.update(batches[i % 4], gen, 0.6)
per = (time.process_time() - t) / 24 * 1000
print(f"probed update {per:.2f} ms, of which probe_scores {spent[0] / 24 * 1000:.2f} ms")
recs = recs_box[-1]
print("recorded rows per probe:", sum(r.x.shape[0] for r in recs), "(states x denoising steps)")
with profile(activities=[ProfilerActivity.CPU]) as prof:
    for _ in range(10):
        inner(recs)
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))
