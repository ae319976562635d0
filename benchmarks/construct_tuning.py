"""How the construction's agent and defaults were chosen: behaviour cloning centrally and
federated (plain work-weighted FedAvg in a loop, no Flower), scored on *validation* missions.

Each ES's demonstrations are made exactly as the ClientApp makes them (its own seed stream,
a Dirichlet mix over colours), then:

* ``--mode central``: one agent trained on every ES's data pooled, evaluated after each
  entry of ``--evals`` steps;
* ``--mode fed``: ``--n`` ESs, ``--steps`` local steps each per period spread over
  ``--rounds`` rounds, Adam kept at each ES, work-weighted FedAvg after each round,
  evaluated after each period.

Every result is appended as one JSON line to ``--out`` (with the arguments). Validation
missions only (seeds disjoint from the test missions every report uses). Example:

    python benchmarks/construct_tuning.py --mode fed --rounds 8 \
        --out docs/data/construction_tuning/results.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from dyncontract.framework.construction.agent import AgentSpec
from dyncontract.framework.construction.client_app import es_rng
from dyncontract.framework.construction.data import (
    Episodes,
    attribute_mix,
    eval_seeds,
    generate_demos,
)
from dyncontract.framework.construction.strategy import ModuleFedAvg, Update
from dyncontract.framework.construction.task import (
    evaluate_policy,
    get_weights,
    new_agent,
    set_weights,
    train_bc,
)

LEVEL = "BabyAI-GoToLocal-v0"


def es_data(n: int, demos: int, concentration: float | None, seed: int) -> list[Episodes]:
    out = []
    for e in range(n):
        rng = es_rng(seed, e, 0)
        mix = attribute_mix(rng, "colour", concentration)
        out.append(generate_demos([LEVEL], demos, rng, "colour", mix)[0])
    return out


def pooled(parts: list[Episodes]) -> Episodes:
    width = max(p.missions.shape[1] for p in parts)
    offsets = [0]
    for p in parts:
        offsets.extend((offsets[-1] + p.offsets[1:]).tolist())
    return Episodes(
        frames=np.concatenate([p.frames for p in parts]),
        directions=np.concatenate([p.directions for p in parts]),
        actions=np.concatenate([p.actions for p in parts]),
        offsets=np.asarray(offsets),
        missions=np.concatenate(
            [np.pad(p.missions, ((0, 0), (0, width - p.missions.shape[1]))) for p in parts]
        ),
        attributes=np.concatenate([p.attributes for p in parts]),
    )  # fmt: skip


def score(agent, n_missions: int) -> dict[str, float]:
    seeds = eval_seeds(n_missions, "validation")
    s = evaluate_policy(agent, [LEVEL], seeds, temperature=1.0)
    g = evaluate_policy(agent, [LEVEL], seeds, temperature=0.0)
    return {"success_sampled": s.success_rate, "success_greedy": g.success_rate,
            "length_sampled": s.mean_length}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("central", "fed"), default="fed")
    ap.add_argument("--n", type=int, default=20, help="ESs")
    ap.add_argument("--demos", type=int, default=400, help="demonstrations per ES")
    ap.add_argument("--concentration", type=float, default=0.5, help="<= 0: IID")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=280, help="local steps per ES and period")
    ap.add_argument("--evals", default="400,800,1500", help="central: steps to evaluate at")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--heads", type=int, default=4, help="grounding maps (0: plain FiLM)")
    ap.add_argument("--missions", type=int, default=300, help="validation missions")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    conc = a.concentration if a.concentration > 0 else None
    data = es_data(a.n, a.demos, conc, a.seed)
    spec = AgentSpec(channels=a.channels, heads=a.heads)
    t0 = time.perf_counter()
    rows = []
    if a.mode == "central":
        eps = pooled(data)
        agent = new_agent(spec, a.seed)
        opt = torch.optim.Adam(agent.parameters(), a.lr)
        rng, done, cpu = np.random.default_rng(a.seed), 0, 0.0
        for target in (int(x) for x in a.evals.split(",")):
            r = train_bc(agent, opt, eps, target - done, a.batch, rng)
            done, cpu = target, cpu + r.cpu_s
            row = {"trained_steps": done, "loss": r.loss, "cpu_s": cpu}
            rows.append({**row, **score(agent, a.missions)})
    else:
        g = get_weights(new_agent(spec, a.seed))
        clients = [new_agent(spec, a.seed) for _ in range(a.n)]
        opts = [torch.optim.Adam(c.parameters(), a.lr) for c in clients]
        strat, cpu = ModuleFedAvg(), 0.0
        per_round = [a.steps // a.rounds + (r < a.steps % a.rounds) for r in range(a.rounds)]
        for period in (1, 2):
            for r, k in enumerate(per_round, start=1):
                ups = []
                for e, (c, o) in enumerate(zip(clients, opts, strict=True)):
                    set_weights(c, g)
                    res = train_bc(c, o, data[e], k, a.batch, es_rng(a.seed, e, period, r))
                    cpu += res.cpu_s
                    ups.append(Update(e, k, get_weights(c)))
                g, _ = strat.aggregate(g, ups)
            agent = new_agent(spec, a.seed)
            set_weights(agent, g)
            rows.append({"period": period, "cpu_s": cpu, **score(agent, a.missions)})
    args = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with a.out.open("a") as fh:
        for row in rows:
            fh.write(json.dumps({**args, **row, "wall_s": time.perf_counter() - t0}) + "\n")
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
