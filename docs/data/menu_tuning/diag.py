"""The policy's menus on the first validation states: choices, period-1 rents, raw means.

Usage: PYTHONPATH=src python docs/data/menu_tuning/diag.py RUN
"""

import sys

import numpy as np
import torch

from dyncontract.env.distribution import ScenarioDistribution
from dyncontract.experiments.composition import contract_setting, load_run
from dyncontract.rl.evaluation import load_actor
from dyncontract.solvers.exact import solve_dynamic


def main(run: str) -> None:
    torch.set_printoptions(precision=3, sci_mode=False, linewidth=200)
    cfg, _ = load_run(run)
    st = contract_setting(cfg)
    env, K = st.env, st.env.K
    actor = load_actor(run)
    obs = torch.as_tensor(st.held.obs[:4], dtype=torch.float32)
    ct = env.contracts(obs, actor.act(obs, mode="deterministic"))
    out = env.menu_outcome(ct)
    E1 = env.base.kappa * ct["T1"] ** 3 / env.base.tau**2
    print("ratio", out["profit"].numpy() / st.held.optimal_profit[:4])
    print("period1 choice", out["period1"])
    print("T1", ct["T1"])
    print("U1 rent", ct["R1"] - ct["c"] * E1)
    print("rent_max", env.rent_max, "c", ct["c"][0], "prior", ct["prior"][0])
    for sc in ScenarioDistribution(env.base, cfg.env).scenarios(st.held.obs[:2]):
        c = solve_dynamic(sc).contract
        print("opt T1", np.round(c.T1, 3), "R1", np.round(c.R1, 3))
    o = actor(obs, mode="deterministic")
    print("raw mean R1 dims", o.raw_mean[:, K + K * K : 2 * K + K * K])
    print("raw mean R2 dims row0", o.raw_mean[:, 2 * K + K * K : 3 * K + K * K])
    print("log_std R1", o.log_std[:, K + K * K : 2 * K + K * K])


if __name__ == "__main__":
    main(sys.argv[1])
