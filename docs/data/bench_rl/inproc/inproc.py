"""In-process interleaved timing against d5f0a49 (the speed work's starting point): one
process holds an agent of d5f0a49's code (imported as the renamed package
``dyncontract_d5``, built by make_d5pkg.sh) and agents of this revision, and rotates rounds
of 8 updates between them
(the order rotates every round). The VM's speed drifts by up to ~60 % between minutes,
which a one-process-per-measurement design (paired/) can only average out; here every arm
sees the same minutes. Default sizes, 2 threads, masks ramped 0 -> 20 % -> 50 % first (as
in training).

    PYTHONPATH=src:D5PKG python docs/data/bench_rl/inproc/inproc.py ALGO ARMS ROUNDS [WIDTH]
        [--by-predecessor]

ARMS: comma-separated, each one of eager | compile_all (rl.compile_critic +
rl.compile_chain, with their defaults) | compile_all_py (the same with
rl.compile_cpp_wrapper=false: inductor's Python wrapper). Prints one line per arm: median ms
per update of d5f0a49 and of the arm, their ratio, and the median of the per-round ratios
(in each round every arm ran once, back to back). ``--by-predecessor`` also prints each
arm's median by the arm that ran just before it (a check that a compiled agent does not slow
down the eager agent that follows it).
"""

import statistics
import sys
import time

import bench_rl_d5  # d5f0a49's benchmark module, renamed
import torch
from dyncontract_d5.config import load_config as load_d5
from dyncontract_d5.env import BatchedContractEnv as Env_d5
from dyncontract_d5.rl.edmsac import EDMSAC as EDMSAC_d5

sys.path.insert(0, "benchmarks")
from bench_rl import _batches  # noqa: E402

from dyncontract.config import load_config  # noqa: E402
from dyncontract.env import BatchedContractEnv  # noqa: E402
from dyncontract.rl.edmsac import EDMSAC  # noqa: E402

by_predecessor = "--by-predecessor" in sys.argv
args = [a for a in sys.argv[1:] if a != "--by-predecessor"]
algo, arm_list, rounds = args[0], args[1].split(","), int(args[2])
width = int(args[3]) if len(args) > 3 else 128
torch.set_num_threads(2)
ARMS = {
    "eager": {},
    "compile_all": {"compile_critic": True, "compile_chain": True},
    "compile_all_py": {"compile_critic": True, "compile_chain": True, "compile_cpp_wrapper": False},
}


def build(load, env_cls, agent_cls, batches_fn, upd):
    cfg = load(None)
    env = env_cls(cfg.scenario_obj(), cfg.env)
    batches = batches_fn(cfg.rl, env.obs_dim, env.act_dim)
    torch.manual_seed(0)
    ag = agent_cls(cfg.rl.model_copy(update=upd), env.obs_dim, env.act_dim)
    return ag, batches, torch.Generator().manual_seed(1)


base = {"algo": algo, "actor_hidden": width}
for arm in arm_list:
    if arm not in ARMS:
        raise SystemExit(f"ARMS: each one of {', '.join(ARMS)}, got {arm!r}")
arms = {"d5f0a49": build(load_d5, Env_d5, EDMSAC_d5, bench_rl_d5._batches, base)}
for arm in arm_list:
    arms[arm] = build(load_config, BatchedContractEnv, EDMSAC, _batches, {**base, **ARMS[arm]})


def run(key: str, n: int) -> None:
    ag, batches, gen = arms[key]
    for i in range(n):
        ag.update(batches[i % 4], gen, 0.6)


for key, (ag, _, _) in arms.items():
    if ag.pruner is not None:
        run(key, 8)
        ag.pruner.apply_ratio(0.2)
        run(key, 8)
        ag.pruner.apply_ratio(ag.pruner.target_ratio)
    run(key, 40)  # warm-up (and compilation)
keys = list(arms)
times: dict[str, list[float]] = {k: [] for k in keys}
after: dict[tuple[str, str], list[float]] = {}
prev = "none"
for r in range(rounds):
    for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
        t = time.perf_counter()
        run(key, 8)
        times[key].append((time.perf_counter() - t) / 8 * 1000)
        after.setdefault((key, prev), []).append(times[key][-1])
        prev = key
if by_predecessor:
    for (key, p), v in sorted(after.items()):
        print("after", algo, key, "after", p, len(v), round(statistics.median(v), 3))
d5 = times["d5f0a49"]
for arm in arm_list:
    m0, m1 = statistics.median(d5), statistics.median(times[arm])
    paired = statistics.median(a / b for a, b in zip(d5, times[arm], strict=True))
    print(
        algo, arm, width, {"d5f0a49": round(m0, 3), "new": round(m1, 3)},
        "ratio", round(m0 / m1, 4), "median_paired", round(paired, 4), flush=True,
    )  # fmt: skip
