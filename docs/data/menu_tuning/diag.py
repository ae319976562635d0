import sys, numpy as np, torch
from dyncontract.rl.evaluation import load_actor
from dyncontract.experiments.composition import load_run, contract_setting
from dyncontract.solvers.exact import solve_dynamic
from dyncontract.env.distribution import ScenarioDistribution
torch.set_printoptions(precision=3, sci_mode=False, linewidth=200)
run = sys.argv[1]
cfg, _ = load_run(run)
st = contract_setting(cfg)
env = st.env
actor = load_actor(run)
obs = torch.as_tensor(st.held.obs[:4], dtype=torch.float32)
a = actor.act(obs, mode="deterministic")
ct = env.contracts(obs, a)
out = env.menu_outcome(ct)
print("ratio", (out["profit"].numpy() / st.held.optimal_profit[:4]))
print("period1 choice", out["period1"])
print("T1", ct["T1"]); print("U1 rent", ct["R1"] - ct["c"] * env.base.kappa * ct["T1"] ** 3 / env.base.tau**2)
print("rent_max", env.rent_max, "c", ct["c"][0], "prior", ct["prior"][0])
scs = ScenarioDistribution(env.base, cfg.env).scenarios(st.held.obs[:2])
for sc in scs:
    r = solve_dynamic(sc)
    c = r.contract
    print("opt T1", np.round(c.T1, 3), "U1", np.round(c.R1 - sc.costs * 0 if False else c.R1, 3))
    print(r.contract)
o = actor(obs, mode="deterministic")
K = env.K
print("raw mean R1 dims", o.raw_mean[:, K + K*K: 2*K + K*K])
print("raw mean R2 dims row0", o.raw_mean[:, 2*K + K*K: 2*K+K*K+K])
print("log_std R1", o.log_std[:, K + K*K: 2*K + K*K])
