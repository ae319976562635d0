"""Stop 22's in-process A/B measurements (results_stop22.txt): alternating rounds of 8
updates between two arms, median ms per update over ROUNDS rounds per arm, default sizes,
2 threads, masks ramped 0 -> 20 % -> 50 % first (EDMSAC), run alone.

    PYTHONPATH=src python docs/data/bench_rl/ab/ab_stop22.py cppw ALGO ROUNDS
    PYTHONPATH=src python docs/data/bench_rl/ab/ab_stop22.py clip ALGO ROUNDS [eager]
    PYTHONPATH=src python docs/data/bench_rl/ab/ab_stop22.py bf16 ALGO ROUNDS [eager]
    PYTHONPATH=src python docs/data/bench_rl/ab/ab_stop22.py subnormal

cppw: two agents with both compile options, inductor's Python wrapper ("py") against its C++
wrapper ("cppw"). clip: one agent, torch's clip_grad_norm_ ("torch") against
edmsac.clip_grad_norm ("new"). bf16: one agent, fp32 matmuls ("fp32") against oneDNN's
bfloat16 matmuls for the whole update ("bf16"). Without "eager" the agents use both compile
options. subnormal: torch's clip_grad_norm_ and edmsac.clip_grad_norm (no clipping) on a
critic's gradients, with and without subnormal entries (us per call).
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
from dyncontract.rl.networks import TwinCritic  # noqa: E402

torch.set_num_threads(2)
mode = sys.argv[1]


def timed(fn, n: int = 300) -> float:
    for _ in range(20):
        fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


if mode == "subnormal":
    critic = TwinCritic(7, 30, 256, 3)
    q1, q2 = critic(torch.randn(256, 7), torch.randn(256, 30))
    (q1.sum() + q2.sum()).backward()
    params = list(critic.parameters())
    clean = [p.grad.clone() for p in params]
    for label, sub in (("normal", False), ("subnormal", True)):
        for p, g in zip(params, clean, strict=True):
            p.grad = g.clone()
            if sub:
                p.grad.view(-1)[::7] = 1e-40  # every 7th entry subnormal
        res = {
            "torch": timed(lambda: torch.nn.utils.clip_grad_norm_(params, 1e9)),
            "new": timed(lambda: E.clip_grad_norm(params, 1e9)),
        }
        print(mode, label, {k: round(v, 1) for k, v in res.items()}, "us per call", flush=True)
    raise SystemExit

algo, rounds = sys.argv[2], int(sys.argv[3])
compiled = "eager" not in sys.argv[4:]
cfg = load_config(None)
env = BatchedContractEnv(cfg.scenario_obj(), cfg.env)
batches = _batches(cfg.rl, env.obs_dim, env.act_dim)
gen = torch.Generator().manual_seed(1)


def make(**upd):
    torch.manual_seed(0)
    rl = cfg.rl.model_copy(
        update={"algo": algo, "compile_critic": compiled, "compile_chain": compiled, **upd}
    )
    ag = E.EDMSAC(rl, env.obs_dim, env.act_dim)
    if ag.pruner is not None:
        run(ag, 8)
        ag.pruner.apply_ratio(0.2)
        run(ag, 8)
        ag.pruner.apply_ratio(ag.pruner.target_ratio)
    return ag


def run(ag, n: int) -> None:
    for i in range(n):
        ag.update(batches[i % 4], gen, 0.6)


mk = torch.backends.mkldnn.matmul
if mode == "cppw":
    agents = {"py": make(compile_cpp_wrapper=False), "cppw": make(compile_cpp_wrapper=True)}
    arms = {k: (lambda: None) for k in agents}
elif mode == "clip":
    ag = make()
    agents = {"torch": ag, "new": ag}
    arms = {
        "torch": lambda: setattr(E, "clip_grad_norm", torch.nn.utils.clip_grad_norm_),
        "new": lambda: setattr(E, "clip_grad_norm", CLIP),
    }
elif mode == "bf16":
    ag = make()
    agents = {"fp32": ag, "bf16": ag}
    arms = {
        "fp32": lambda: setattr(mk, "fp32_precision", "none"),
        "bf16": lambda: setattr(mk, "fp32_precision", "bf16"),
    }
else:
    raise SystemExit(f"mode: cppw, clip, bf16 or subnormal, got {mode!r}")
CLIP = E.clip_grad_norm
for k in arms:  # warm-up (and compilation) of both arms
    arms[k]()
    run(agents[k], 40)
times: dict[str, list[float]] = {k: [] for k in arms}
for r in range(rounds):
    for k in list(arms) if r % 2 else list(arms)[::-1]:
        arms[k]()
        t = time.perf_counter()
        run(agents[k], 8)
        times[k].append((time.perf_counter() - t) / 8 * 1000)
arms[list(arms)[0]]()  # leave the first arm's setting (fp32, torch's clipping)
m = {k: statistics.median(v) for k, v in times.items()}
a, b = list(m)
print(
    mode, algo, "compiled" if compiled else "eager", {k: round(v, 3) for k, v in m.items()},
    "speedup", round(m[a] / m[b], 4), flush=True,
)  # fmt: skip
