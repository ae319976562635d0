"""Where the exact optima lie in menu mode's action box (`rent` payments, linear map): the
action of the optimal contract on 24 default states, encoded by the tests' inverse map
(tests/test_menu_env.py, menu_action).

usage (repository root): PYTHONPATH=src python docs/data/menu_tuning/tries6/optimum_actions.py
"""

import sys

import numpy as np

sys.path.insert(0, "tests")
from test_menu_env import _env, menu_action  # noqa: E402

from dyncontract.solvers.exact import solve_dynamic  # noqa: E402

np.set_printoptions(precision=2, suppress=True, linewidth=160)
env, _ = _env()
A = []
for i in range(24):
    obs, _ = env.reset(seed=500 + i)
    sc = env.dist.scenarios(obs[None])[0]
    A.append(menu_action(solve_dynamic(sc).contract, sc, env))
A = np.array(A)
K = 5
rents = A[:, K + K * K :]
print("menu_rent_max", env.rent_max)
print("T1 actions: mean", A[:, :K].mean(0), "min", A[:, :K].min(0), "max", A[:, :K].max(0))
print("R1 rent actions: mean", rents[:, :K].mean(0), "max", rents[:, :K].max(0))
print("R2 rent-step actions, mean per (history, type):\n", rents[:, K:].mean(0).reshape(K, K))
print("all rent actions: min", rents.min(), "max", rents.max(), "mean", rents.mean().round(3))
share = (rents + 1) / 2  # rent / menu_rent_max
print("rent / menu_rent_max where positive: min", share[share > 1e-6].min().round(3),
      "max", share.max().round(3))  # fmt: skip
