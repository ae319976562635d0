import sys, numpy as np, torch
from dyncontract.rl.evaluation import load_actor
from dyncontract.experiments.composition import load_run, contract_setting
run = sys.argv[1]
cfg, _ = load_run(run)
st = contract_setting(cfg)
env = st.env
actor = load_actor(run)
K = env.K
names = [f"T1_{k}" for k in range(K)] + [f"T2_{l}{i}" for l in range(K) for i in range(K)] + [f"R1_{k}" for k in range(K)] + [f"R2_{l}{i}" for l in range(K) for i in range(K)]
for s in range(3):
    obs = torch.as_tensor(st.held.obs[s:s+1], dtype=torch.float32)
    a0 = actor.act(obs, mode="deterministic")[0].double()
    opt = st.held.optimal_profit[s]
    base = float(env.step(obs, a0[None])["profit"][0]) / opt
    vals = torch.linspace(-1, 1, 81, dtype=torch.float64)
    A = a0.repeat(len(a0) * len(vals), 1)
    for d in range(len(a0)):
        A[d * len(vals):(d + 1) * len(vals), d] = vals
    out = env.step(obs.repeat(len(A), 1), A.float())
    prof = out["profit"].view(len(a0), len(vals)) / opt
    best = prof.max(1)
    gains = (best.values - base)
    idx = torch.argsort(gains, descending=True)[:6]
    print(f"state {s}: base {base:.4f}; best single-dim moves:", [(names[i], round(float(gains[i]), 4), round(float(vals[best.indices[i]]), 2), round(float(a0[i]),2)) for i in idx])
    # pairs: R1_k with T1_k
    bestpair = (0, None)
    for k in range(1, K):
        dT, dR = K * 0 + k, K + K * K + k
        g = torch.linspace(-1, 1, 41, dtype=torch.float64)
        TT, RR = torch.meshgrid(g, g, indexing="ij")
        A2 = a0.repeat(41 * 41, 1); A2[:, dT] = TT.flatten(); A2[:, dR] = RR.flatten()
        p2 = env.step(obs.repeat(len(A2), 1), A2.float())["profit"] / opt
        if float(p2.max()) - base > bestpair[0]:
            bestpair = (float(p2.max()) - base, k)
    print("   best (T1_k, R1_k) pair move:", bestpair)
