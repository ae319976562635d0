"""EDMSAC on multi-step tasks: the soft Bellman backup must carry a delayed reward back.

:class:`DelayedChain` — a deterministic, batched 1-D chain of ``H`` steps: position p0 = 0,
action a in [-1, 1], move m = (a + 1) / 2 in [0, 1], p' = p + m. Every move costs COST = 0.5
now; the final step pays the final position p_H. Observation (p / H, t / H).

* Optimal return: every move is worth 1 (paid at the end) - 0.5 (now), so m = 1 at every
  step: H (1 - 0.5) = 2 for H = 4 (optimal for every gamma > 0.5 ** (1 / (H - 1)) = 0.79).
* A learner whose targets do not bootstrap (gamma = 0) sees only the immediate reward: at
  steps 0..H-2 that is -0.5 m, maximised by m = 0; only the last step sees the bonus
  (m = 1). Its optimum is the myopic policy, return 1 - 0.5 = 0.5: it cannot get near 2.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from helpers import tiny_rl_config

from dyncontract.rl.buffer import Batch, ReplayBuffer
from dyncontract.rl.collectors import GymCollector
from dyncontract.rl.edmsac import EDMSAC

H = 4
COST = 0.5
OPTIMAL_RETURN = H * (1.0 - COST)  # 2.0
MYOPIC_RETURN = 1.0 - COST  # 0.5: the return of the policy a gamma = 0 learner converges to


class DelayedChain:
    """``n`` copies of the chain stepped together (torch, float32)."""

    obs_dim, act_dim = 2, 1

    def __init__(self, n: int) -> None:
        self.n = n
        self.p = torch.zeros(n)
        self.t = 0

    def obs(self) -> torch.Tensor:
        return torch.stack([self.p / H, torch.full((self.n,), self.t / H)], dim=-1)

    def reset(self) -> torch.Tensor:
        self.p.zero_()
        self.t = 0
        return self.obs()

    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
        m = (action[:, 0].clamp(-1, 1) + 1) / 2
        self.p = self.p + m
        self.t += 1
        done = self.t == H
        rew = -COST * m + (self.p if done else 0.0)
        return self.obs(), rew, done


def greedy_return(agent: EDMSAC, n: int = 32) -> float:
    env = DelayedChain(n)
    obs, total, done = env.reset(), torch.zeros(n), False
    while not done:
        obs, r, done = env.step(agent.act(obs, None, mode="deterministic"))
        total += r
    return float(total.mean())


def train_chain(
    gamma: float, seed: int = 0, env_steps: int = 3200, n_envs: int = 8, updates: int = 2
) -> tuple[EDMSAC, float]:
    """A small SAC loop: ``n_envs`` chains stepped together, ``updates`` per vector step."""
    torch.manual_seed(seed)
    cfg = tiny_rl_config(
        algo="dmsac",
        gamma=gamma,
        actions_per_state=1,
        critic_center_weight=0.0,
        reward_clip_quantile=None,
        action_squash="tanh",
        lr_schedule="constant",
        actor_lr=3e-3,
        critic_lr=3e-3,
        init_alpha=0.05,
        target_entropy_final_per_dim=None,
        batch_size=128,
        critic_hidden=64,
        tau=0.02,
    )
    agent = EDMSAC(cfg, DelayedChain.obs_dim, DelayedChain.act_dim, group=1)
    buf = ReplayBuffer(env_steps, DelayedChain.obs_dim, DelayedChain.act_dim, torch.device("cpu"))
    gen = torch.Generator().manual_seed(seed)
    env = DelayedChain(n_envs)
    obs = env.reset()
    for step in range(0, env_steps, env.n):
        if step < 256:
            act = torch.rand(env.n, 1, generator=gen) * 2 - 1
        else:
            act = agent.act(obs, gen, mode="sample")
        nxt, rew, done = env.step(act)
        buf.add(Batch(obs, act, rew, nxt, torch.full((env.n,), float(done))))
        obs = env.reset() if done else nxt
        if buf.size >= cfg.batch_size:
            for _ in range(updates):
                agent.update(buf.sample(cfg.batch_size, gen), gen, step / env_steps)
    return agent, greedy_return(agent)


def test_env_optimum_is_what_the_docstring_says() -> None:
    """Brute force over open-loop action sequences (the chain is deterministic, so the best
    one is optimal) checks the analytic optimum; the myopic policy's return too."""
    grid = np.linspace(-1, 1, 5)
    seqs = np.array(np.meshgrid(*[grid] * H)).reshape(H, -1).T  # all 5**H sequences
    best = max(_rollout(lambda t, seq=seq: seq[t]) for seq in seqs)
    assert best == pytest.approx(OPTIMAL_RETURN, abs=1e-5)
    myopic = _rollout(lambda t: 1.0 if t == H - 1 else -1.0)
    assert myopic == pytest.approx(MYOPIC_RETURN, abs=1e-5)


def _rollout(policy) -> float:
    env = DelayedChain(1)
    env.reset()
    total, done, t = 0.0, False, 0
    while not done:
        _, r, done = env.step(torch.tensor([[policy(t)]], dtype=torch.float32))
        total += float(r[0])
        t += 1
    return total


def test_delayed_reward_is_learned_through_the_bootstrap() -> None:
    agent, ret = train_chain(gamma=0.95)
    assert ret > OPTIMAL_RETURN - 0.2, f"return {ret:.3f}, optimum {OPTIMAL_RETURN}"


def test_without_bootstrap_the_delayed_reward_is_not_learned() -> None:
    """Control: the same loop with gamma = 0 stays near the myopic return, far from optimal."""
    agent, ret = train_chain(gamma=0.0)
    assert ret < MYOPIC_RETURN + 0.5, f"return {ret:.3f} with gamma = 0"


class _Counter(gym.Env):
    """obs = [t]; never terminates by itself (a TimeLimit truncates it); reward = t."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
        self.action_space = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], np.float32), float(self.t), self.t >= 100, False, {}


def test_collector_truncation_bootstraps_and_keeps_the_final_observation() -> None:
    """A time-limit truncation is stored as not done, with the true final obs as next_obs;
    a termination is stored as done; the next transition starts from the reset obs."""
    trunc = GymCollector(lambda: gym.wrappers.TimeLimit(_Counter(), 3), 1, 0, torch.device("cpu"))
    rows = [trunc.collect(lambda o: torch.zeros(1, 1), None)[0] for _ in range(4)]
    obs = [float(b.obs[0, 0]) for b in rows]
    nxt = [float(b.next_obs[0, 0]) for b in rows]
    done = [float(b.done[0]) for b in rows]
    assert obs == [0.0, 1.0, 2.0, 0.0]
    assert nxt == [1.0, 2.0, 3.0, 1.0]  # 3.0: the final obs, not the reset one
    assert done == [0.0, 0.0, 0.0, 0.0]  # truncated at t = 3: bootstrap
    term = GymCollector(lambda: _Counter(), 1, 0, torch.device("cpu"))
    term_done = [
        float(term.collect(lambda o: torch.zeros(1, 1), None)[0].done[0]) for _ in range(101)
    ]
    assert term_done[:99] == [0.0] * 99 and term_done[99] == 1.0 and term_done[100] == 0.0


def test_fused_twin_critic_equals_two_separate_mlps() -> None:
    """The batched (baddbmm) twin critic computes exactly two plain LayerNorm MLPs."""
    from torch import nn

    from dyncontract.rl.networks import TwinCritic, mlp

    torch.manual_seed(0)
    for act_name, act_cls in (("mish", nn.Mish), ("relu", nn.ReLU)):
        tc = TwinCritic(3, 2, 16, 2, layer_norm=True, activation=act_name)
        with torch.no_grad():  # non-trivial LayerNorm affine parameters
            for name, p in tc.named_parameters():
                if name.startswith("ln_"):
                    p.add_(torch.randn_like(p) * 0.3)
        refs = []
        for k in range(2):
            ref = mlp(5, [16, 16], 1, act=act_cls, layer_norm=True)
            lin = [m for m in ref if isinstance(m, nn.Linear)]
            lns = [m for m in ref if isinstance(m, nn.LayerNorm)]
            with torch.no_grad():
                for i, m in enumerate(lin):
                    m.weight.copy_(getattr(tc, f"w{i}")[k].T)
                    m.bias.copy_(getattr(tc, f"b{i}")[k, 0])
                for i, m in enumerate(lns):
                    m.weight.copy_(getattr(tc, f"ln_w{i}")[k, 0])
                    m.bias.copy_(getattr(tc, f"ln_b{i}")[k, 0])
            refs.append(ref)
        obs, act = torch.randn(7, 3), torch.rand(7, 2) * 2 - 1
        q1, q2 = tc(obs, act)
        x = torch.cat([obs, act], -1)
        torch.testing.assert_close(q1, refs[0](x).squeeze(-1), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(q2, refs[1](x).squeeze(-1), rtol=1e-5, atol=1e-5)
        assert not torch.allclose(q1, q2)  # two independent networks


def test_tanh_log_prob_is_the_change_of_variables_density() -> None:
    """tanh squashing: log pi(a) = log N(u; m, s^2) - sum log(1 - tanh(u)^2), a = tanh(u)."""
    from dyncontract.rl.diffusion import DiffusionActor

    torch.manual_seed(0)
    actor = DiffusionActor(3, 2, n_steps=3, widths=[16], time_dim=4, state_dim=8, squash="tanh")
    obs = torch.randn(64, 3)
    out = actor(obs, torch.Generator().manual_seed(1), mode="sample")
    u = torch.atanh(out.action.clamp(-1 + 1e-6, 1 - 1e-6))
    base = torch.distributions.Normal(out.raw_mean, out.log_std.exp())
    ref = (base.log_prob(u) - torch.log1p(-out.action.pow(2))).sum(-1)
    inside = out.action.abs().max(-1).values < 0.999
    assert inside.sum() > 32
    torch.testing.assert_close(out.log_prob[inside], ref[inside], rtol=1e-3, atol=1e-3)
    assert out.action.abs().max() <= 1.0


def test_fused_twin_critic_loads_the_former_two_mlp_checkpoint_layout() -> None:
    from torch import nn

    from dyncontract.rl.networks import TwinCritic, mlp

    torch.manual_seed(1)
    old = nn.Module()
    old.q1 = mlp(5, [8, 8], 1, layer_norm=True)
    old.q2 = mlp(5, [8, 8], 1, layer_norm=True)
    tc = TwinCritic(3, 2, 8, 2)
    tc.load_state_dict(old.state_dict())
    x = torch.randn(4, 5)
    q1, q2 = tc(x[:, :3], x[:, 3:])
    torch.testing.assert_close(q1, old.q1(x).squeeze(-1))
    torch.testing.assert_close(q2, old.q2(x).squeeze(-1))


def _numpy_chain(eps: np.ndarray, n_steps: int, bound: float) -> np.ndarray:
    """The noise-free DDPM reverse chain from x_N = 0 with a constant noise prediction, written
    from the DDPM formulas (Ho et al. 2020, eqs. 7 and 15) with the VP beta schedule."""
    t = np.arange(1, n_steps + 1)
    betas = 1 - np.exp(-0.1 / n_steps - 0.5 * (10.0 - 0.1) * (2 * t - 1) / n_steps**2)
    abar = np.cumprod(1 - betas)
    x = np.zeros_like(eps)
    for i in reversed(range(n_steps)):
        x0 = (x - np.sqrt(1 - abar[i]) * eps) / np.sqrt(abar[i])
        if i == 0:
            return x0
        x0 = np.clip(x0, -bound, bound)
        abar_prev = abar[i - 1]
        mu = (np.sqrt(abar_prev) * betas[i] * x0 + np.sqrt(1 - betas[i]) * (1 - abar_prev) * x) / (
            1 - abar[i]
        )
        x = mu
    raise AssertionError("unreachable")


def test_chain_x0_bound_follows_the_squash_and_matches_ddpm() -> None:
    """The intermediate x0 bound: 1 with clip squashing, 3 with tanh (where the chain lives
    before tanh, and a bound of 1 = tanh(1) = 0.76 kept all but the last step off the edges:
    Pendulum's holding torques); the chain equals an independent numpy DDPM."""
    from dyncontract.rl.config import RLConfig
    from dyncontract.rl.edmsac import make_actor

    assert RLConfig().x0_clip_value == 1.0
    assert RLConfig(action_squash="tanh").x0_clip_value == 3.0
    assert RLConfig(action_squash="tanh", x0_clip=2.0).x0_clip_value == 2.0
    eps_const = np.array([-1.5, 0.4])  # x0 leaves [-1, 1] in the first steps
    raws = {}
    for squash, bound in (("clip", 1.0), ("tanh", 3.0)):
        actor = make_actor(RLConfig(action_squash=squash, diffusion_steps=5), 3, 2)
        assert actor.x0_clip == bound and actor.arch["x0_clip"] == bound
        with torch.no_grad():  # a denoiser that predicts a constant noise
            actor.denoiser.out.weight.zero_()
            actor.denoiser.out.bias.copy_(torch.as_tensor(eps_const))
        out = actor(torch.randn(4, 3), None, mode="deterministic")
        ref = _numpy_chain(np.tile(eps_const, (4, 1)), 5, bound)
        np.testing.assert_allclose(out.raw_mean.detach().numpy(), ref, rtol=1e-4, atol=1e-5)
        raws[squash] = ref[0]
    assert abs(raws["tanh"][0]) > abs(raws["clip"][0]) + 0.1  # the bound was active


@pytest.mark.parametrize("squash", ["clip", "tanh"])
def test_imitation_loss_teaches_the_target_action_in_either_squash(squash: str) -> None:
    """Minimising the denoising loss of one target action makes the noise-free chain output
    that action (with tanh the chain lives before the squashing: the target is atanh(a))."""
    from dyncontract.rl.diffusion import DiffusionActor

    torch.manual_seed(0)
    bound = 3.0 if squash == "tanh" else 1.0  # RLConfig's x0_clip defaults
    actor = DiffusionActor(
        2, 2, n_steps=3, widths=[32, 32], time_dim=4, state_dim=8, squash=squash, x0_clip=bound
    )
    opt = torch.optim.Adam(actor.parameters(), lr=3e-3)
    obs = torch.zeros(64, 2)
    target = torch.tensor([[0.9, -0.5]]).expand(64, 2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(600):
        opt.zero_grad()
        actor.imitation_loss(obs, target, gen).mean().backward()
        opt.step()
    a = actor.act(obs[:1], None, mode="deterministic")[0]
    torch.testing.assert_close(a, target[0], atol=0.05, rtol=0.0)


@pytest.mark.parametrize("squash", ["clip", "tanh"])
def test_chain_entropy_bounds_the_policys_entropy_from_above(squash: str) -> None:
    """``chain_entropy`` (a Gaussian fit to the whole chain's draws) is at least the policy's
    entropy, measured independently from 20 000 draws per state (scipy's spacing estimator),
    and not far above it; the last-step estimate is far below it (the chain's own spread)."""
    from scipy.stats import differential_entropy

    from dyncontract.rl.diffusion import DiffusionActor

    torch.manual_seed(0)
    actor = DiffusionActor(
        3, 1, widths=[32, 32], squash=squash, x0_clip=3.0 if squash == "tanh" else 1.0
    )
    obs = torch.randn(3, 3)
    gen = torch.Generator().manual_seed(1)
    chain = actor.chain_entropy(obs, gen, samples=4000)
    for i in range(3):
        with torch.no_grad():
            out = actor(obs[i : i + 1].repeat(20_000, 1), gen, mode="sample")
            # the estimate is of the pre-clip law with clip (clipping ignored, documented)
            u = out.raw_mean + out.log_std.exp() * torch.randn(20_000, 1, generator=gen)
        draws = out.action if squash == "tanh" else u
        ref = float(differential_entropy(draws[:, 0].numpy()))
        last_step = float(-out.log_prob.mean())
        assert ref - 0.02 <= float(chain[i]) <= ref + 0.5, (squash, i, float(chain[i]), ref)
        assert last_step < ref - 1.0, (squash, i, last_step, ref)


def test_chain_entropy_of_a_gaussian_actor_is_its_exact_entropy() -> None:
    from dyncontract.rl.gaussian import GaussianActor

    torch.manual_seed(0)
    actor = GaussianActor(3, 2, widths=[16])
    obs = torch.randn(5, 3)
    torch.testing.assert_close(actor.chain_entropy(obs, None, 4), actor.entropy_estimate(obs))


def _random_batch(g: torch.Generator, n: int = 64) -> Batch:
    """n random one-step transitions (obs_dim 3, act_dim 1, every one terminal)."""
    return Batch(
        torch.randn(n, 3, generator=g),
        torch.rand(n, 1, generator=g) * 2 - 1,
        torch.randn(n, generator=g),
        torch.randn(n, 3, generator=g),
        torch.ones(n),
    )


def test_temperature_follows_the_chosen_entropy_estimate() -> None:
    """At initialisation a tanh diffusion actor's last-step entropy is far below the target
    (-2) while its whole-chain entropy is above it: one update raises the temperature with
    ``entropy_estimate=last_step`` and lowers it with ``chain``."""
    moved = {}
    for est in ("last_step", "chain"):
        torch.manual_seed(0)
        cfg = tiny_rl_config(
            action_squash="tanh",
            entropy_estimate=est,
            target_entropy_per_dim=-2.0,
            target_entropy_final_per_dim=None,
            init_alpha=0.1,
        )
        agent = EDMSAC(cfg, 3, 1, group=1)
        g = torch.Generator().manual_seed(0)
        b = _random_batch(g)
        info = agent.update(b, g, 0.0)
        moved[est] = (agent.alpha - 0.1, float(info["entropy"]))
    assert moved["last_step"][0] > 0 and moved["last_step"][1] < -2.0, moved
    assert moved["chain"][0] < 0 and moved["chain"][1] > -2.0, moved


def test_gym_benchmark_speed_ratio_runs_with_the_gym_config() -> None:
    """``benchmarks/bench_gym.py --speed-ratio`` (the speed measurement of docs/edmsac.md) runs
    on the shipped gym config with a ``--set`` override (a tiny, untimed version)."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("bench_gym", root / "benchmarks/bench_gym.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = bench.speed_ratio(
        str(root / "configs/edmsac-gym.yaml"), ["rl.batch_size=64"], reps=1, block=2
    )
    assert out["dmsac_updates_per_s"] > 0 and out["sac_updates_per_s"] > 0
    assert np.isfinite(out["ratio"]) and out["ratio"] > 0


def test_ema_actor_is_the_polyak_average_and_is_what_a_run_deploys(tmp_path) -> None:
    """``eval_actor: ema``: the target actor follows ema <- ema + ema_tau (actor - ema) after
    every actor update (checked against that recursion run by hand on copies of the weights),
    and the trainer evaluates and checkpoints it as the deployed policy; the default leaves
    the target actor untouched (next actions from the current actor)."""
    from helpers import toy_trainer

    from dyncontract.rl.evaluation import load_actor

    g = torch.Generator().manual_seed(0)
    batch = _random_batch(g)
    for eval_actor in ("actor", "ema"):
        torch.manual_seed(0)
        agent = EDMSAC(tiny_rl_config(eval_actor=eval_actor, ema_tau=0.2), 3, 1, group=1)
        ema = [p.detach().clone() for p in agent.actor.parameters()]
        start = [p.detach().clone() for p in agent.actor_target.parameters()]
        for _ in range(3):
            agent.update(batch, g, 0.0)
            ema = [
                e + 0.2 * (p.detach() - e)
                for e, p in zip(ema, agent.actor.parameters(), strict=True)
            ]
        got = list(agent.actor_target.parameters())
        if eval_actor == "ema":
            for e, p in zip(ema, got, strict=True):
                torch.testing.assert_close(p, e)
            assert agent.deployed_actor is agent.actor_target
        else:
            assert all(torch.equal(p, s) for p, s in zip(got, start, strict=True))
            assert agent.deployed_actor is agent.actor
    cfg = tiny_rl_config(eval_actor="ema", ema_tau=0.05, prune_target=0.0)
    tr = toy_trainer(cfg, tmp_path / "run", steps=4096)
    tr.train()
    assert tr.agent.n_actor_updates > 0
    loaded = load_actor(tmp_path / "run")
    obs = torch.randn(5, tr.obs_dim)
    want = tr.agent.actor_target.act(obs, None, mode="deterministic")
    torch.testing.assert_close(loaded.act(obs, None, mode="deterministic"), want)
    other = tr.agent.actor.act(obs, None, mode="deterministic")
    assert (other - want).abs().max() > 1e-4  # the trained actor is not what was deployed


def test_gym_config_critic_is_sb3_sacs_critic() -> None:
    """``configs/edmsac-gym.yaml`` uses SB3 SAC's critic on Pendulum (two 2 x 256 ReLU MLPs on
    [obs, action], no LayerNorm): SB3's own critic weights load into the fused twin critic the
    config builds (as the two-MLP layout ``q1``/``q2``, strictly: nothing missing or left
    over) and give the same Q values."""
    from pathlib import Path

    from stable_baselines3 import SAC

    from dyncontract.config import load_config

    root = Path(__file__).resolve().parents[1]
    cfg = load_config(str(root / "configs/edmsac-gym.yaml"), {"rl": {"env_id": "Pendulum-v1"}})
    agent = EDMSAC(cfg.rl, obs_dim=3, act_dim=1)
    sac = SAC("MlpPolicy", gym.make("Pendulum-v1"), seed=0, device="cpu")
    sb3 = {
        f"q{j + 1}.{k}": v
        for j in (0, 1)
        for k, v in sac.critic.get_submodule(f"qf{j}").state_dict().items()
    }
    agent.critic.load_state_dict(sb3)
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(64, 3, generator=g)
    act = torch.rand(64, 1, generator=g) * 2 - 1
    with torch.no_grad():
        q1, q2 = agent.critic(obs, act)
        r1, r2 = sac.critic(obs, act)
    assert torch.allclose(q1, r1.squeeze(-1), atol=1e-5)
    assert torch.allclose(q2, r2.squeeze(-1), atol=1e-5)
