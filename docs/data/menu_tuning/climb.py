import sys, numpy as np, torch
from dyncontract.rl.evaluation import load_actor
from dyncontract.experiments.composition import load_run, contract_setting
run = sys.argv[1]
cfg, _ = load_run(run)
st = contract_setting(cfg)
env = st.env
actor = load_actor(run)
rng = np.random.default_rng(0)
vals = torch.linspace(-1, 1, 41, dtype=torch.float64)
for s in range(4):
    obs = torch.as_tensor(st.held.obs[s:s+1], dtype=torch.float32)
    a = actor.act(obs, mode="deterministic")[0].double()
    opt = st.held.optimal_profit[s]
    f = lambda A: env.step(obs.repeat(len(A), 1), A.float())["profit"].double() / opt
    cur = float(f(a[None])[0]); hist=[cur]
    for sweep in range(6):
        for d in rng.permutation(len(a)):
            A = a.repeat(len(vals), 1); A[:, d] = vals
            p = f(A); j = int(p.argmax())
            if float(p[j]) > cur: a = A[j].clone(); cur = float(p[j])
        hist.append(round(cur,4))
    print(s, hist, "truthful", float(env.step(obs, a[None].float())["truthful_rate"][0]))
