# One paired measurement (see paired.sh): median ms per DMSAC/EDMSAC update at actor width W,
# batches as in benchmarks/bench_rl.py, 12 rounds of 8 updates (2 warm-up rounds).
#   python dm.py TAG ALGO W REPO_ROOT [compile | compile_all]
import sys, time, statistics, torch
sys.path.insert(0, sys.argv[4] + "/benchmarks")
from bench_rl import _batches
from dyncontract.config import load_config
from dyncontract.env import BatchedContractEnv
from dyncontract.rl.edmsac import EDMSAC
algo, W = sys.argv[2], int(sys.argv[3])
cfg = load_config(None)
env = BatchedContractEnv(cfg.scenario_obj(), cfg.env)
rl, o, a = cfg.rl, env.obs_dim, env.act_dim
batches = _batches(rl, o, a)
gen = torch.Generator().manual_seed(1)
torch.manual_seed(0)
upd = {"algo": algo, "actor_hidden": W}
if len(sys.argv) > 5 and sys.argv[5] in ("compile", "compile_all"):
    upd["compile_critic"] = True
if len(sys.argv) > 5 and sys.argv[5] == "compile_all":
    upd["compile_chain"] = True
ag = EDMSAC(rl.model_copy(update=upd), o, a)
if ag.pruner is not None: ag.pruner.apply_ratio(ag.pruner.target_ratio)
ts = []
for r in range(14):
    t = time.perf_counter()
    for i in range(8): ag.update(batches[i % 4], gen, 0.6)
    if r >= 2: ts.append((time.perf_counter() - t) / 8 * 1000)
tag = sys.argv[1] + ("+compile" if "compile_critic" in upd else "") + ("+chain" if "compile_chain" in upd else "")
print(tag, algo, W, "%.3f" % statistics.median(ts), flush=True)
