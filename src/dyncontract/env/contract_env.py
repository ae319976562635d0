"""``dyncontract/ContractDesign-v0``: one-step design of a two-period dynamic contract.

* ``reset`` draws a market state (see :mod:`dyncontract.env.distribution`) and returns it as
  the observation, a float32 vector in [-1, 1]^obs_dim.
* ``step(action)`` reads the action (in [-1, 1]^act_dim) as a contract
  (:mod:`dyncontract.env.actions`), scores it, and ends the episode.
* ``info``: ``profit`` (expected CS profit per ES), ``feasible``, ``max_violation``, ``ok``
  (least-payment map succeeded; structured mode), and with ``oracle=True``
  ``optimal_profit`` (the exact dynamic optimum) and ``optimality_ratio``. Menu mode: the ESs
  choose from the menu (:mod:`dyncontract.model.choice`); ``profit`` is the expected profit
  under those choices, ``truthful_rate`` the probability that an ES takes its own items and
  never declines, ``truthful`` (= ``feasible``) whether every ES does, ``sampled_profit``
  with ``menu_reward: sampled``.

This is the plain numpy implementation (model layer functions, one state at a time); the
batched torch twin :class:`~dyncontract.env.batched.BatchedContractEnv` gives the same numbers.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from dyncontract.env.actions import action_dim, menu_payments, shaped_reward, split_action
from dyncontract.env.distribution import EnvConfig, ScenarioDistribution
from dyncontract.model.choice import choose_np, reference_participation
from dyncontract.model.contract import Contract, expected_profit
from dyncontract.model.economics import value
from dyncontract.model.feasibility import check_feasibility
from dyncontract.model.scenario import Scenario
from dyncontract.solvers.payments import least_payment_contract


class ContractDesignEnv(gym.Env):
    """One-step contract design (a contextual bandit with a continuous action).

    Args:
        scenario: base scenario (default: model.md §7).
        env_config: the ``env`` config section (default: :class:`EnvConfig`).
        action_mode: ``"structured"`` or ``"menu"``; overrides
            ``env_config.action_mode``.
        oracle: also solve the exact optimum of each state (slower: one convex program).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        scenario: Scenario | None = None,
        env_config: EnvConfig | None = None,
        action_mode: str | None = None,
        oracle: bool = False,
    ) -> None:
        super().__init__()
        self.base = scenario or Scenario.default()
        self.cfg = env_config or EnvConfig()
        self.mode = action_mode or self.cfg.action_mode
        if self.mode not in ("structured", "menu"):
            raise ValueError(f"action_mode: must be 'structured' or 'menu', got {self.mode!r}")
        self.oracle = oracle
        self.dist = ScenarioDistribution(self.base, self.cfg)
        K = self.base.K
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (self.dist.obs_dim,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (action_dim(K, self.mode),), np.float32)
        self.r_max = self.cfg.reward_max or float(
            self.base.alpha * np.log1p(self.base.beta * self.base.t_max)
        )
        self.rent_max = self.cfg.menu_rent_max or self.r_max / K
        part = reference_participation(self.base.participation, self.cfg.menu_acceptance)
        self.rent1_min = 0.0 if part == "per_period" else -self.rent_max
        self.menu_population = self.cfg.menu_population or self.base.n_es
        self._obs: np.ndarray | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if options and "obs" in options:  # evaluate a given market state
            self._obs = np.asarray(options["obs"], dtype=np.float32).reshape(-1)
        else:
            self._obs = self.dist.sample(1, self.np_random)[0]
        return self._obs.copy(), {}

    def contract_for(self, obs: np.ndarray, action: np.ndarray) -> tuple[Contract, bool, Scenario]:
        """The contract an action stands for in state ``obs`` (and whether it is implementable)."""
        sc = self.dist.scenarios(obs[None])[0]
        a = np.asarray(action, dtype=np.float64).reshape(1, -1)
        T1, T2, R1, R2 = split_action(a, sc.K, sc.t_max, self.mode, self.cfg.monotone, self.r_max)
        if self.mode == "structured":
            res = least_payment_contract(T1[0], T2[0], sc)
            return res.contract, res.implementable, sc
        if self.mode == "menu":
            c = (sc.energy_price / sc.theta)[None]
            R1, R2 = menu_payments(
                R1, R2, T1, T2, c, sc.kappa, sc.tau, self.cfg.menu_payments, self.r_max,
                self.rent_max, self.rent1_min,
                self.cfg.menu_ic_scale_max, self.cfg.menu_ic_scale_min,
                sc.transition[None], sc.discount,
            )  # fmt: skip
        return Contract(T1=T1[0], R1=R1[0], T2=T2[0], R2=R2[0]), True, sc

    def _menu_step(self, contract: Contract, sc: Scenario) -> tuple[float, dict[str, Any]]:
        """Menu mode: the ESs choose; (reward, info) from the profit under their choices."""
        cfg = self.cfg
        ch = choose_np(
            contract.T1, contract.R1, contract.T2, contract.R2, sc,
            tie_tolerance=cfg.tie_tolerance, acceptance=cfg.menu_acceptance,
        )  # fmt: skip
        K = sc.K
        pi1 = value(contract.T1, sc) - contract.R1
        pi2 = value(contract.T2, sc) - contract.R2
        table = np.zeros((K, K))  # profit of an ES of types (k, i)
        ok = np.zeros((K, K), dtype=bool)  # whether it is truthful in both periods
        for k in range(K):
            l = int(ch.period1[k])
            if l < 0:
                continue
            for i in range(K):
                m = int(ch.period2[l, i])
                table[k, i] = pi1[l] + (sc.discount * pi2[l, m] if m >= 0 else 0.0)
                ok[k, i] = l == k and m == i
        w = sc.prior[:, None] * sc.transition
        profit = float((w * table).sum())
        rate = float((w * ok).sum() / w.sum())
        truthful = bool((ok | (w <= 0)).all())
        info: dict[str, Any] = {"truthful_rate": rate, "truthful": truthful}
        earned = profit
        if cfg.menu_reward == "sampled":
            draws = self.np_random.choice(K * K, size=self.menu_population, p=w.ravel() / w.sum())
            earned = float(table.ravel()[draws].mean())
            info["sampled_profit"] = earned
        return profit, {"reward": earned / cfg.reward_scale, **info}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        obs = self._obs
        contract, ok, sc = self.contract_for(obs, action)
        profit = expected_profit(contract, sc)
        report = check_feasibility(contract, sc, tol=self.cfg.feasibility_tol)
        feasible = bool(ok and report.feasible)
        menu: dict[str, Any] = {}
        if self.mode == "menu":
            profit, menu = self._menu_step(contract, sc)
            feasible = menu["truthful"]
            reward = float(menu.pop("reward"))
        else:
            reward = float(
                shaped_reward(
                    profit,
                    ok,
                    report.max_violation,
                    self.cfg.reward_scale,
                    self.cfg.infeasible_penalty,
                )
            )
        info: dict[str, Any] = {
            "profit": profit,
            "feasible": feasible,
            "max_violation": report.max_violation,
            "ok": bool(ok),
            **menu,
        }
        if self.oracle:
            from dyncontract.solvers.exact import solve_dynamic

            ref = sc
            if self.mode == "menu":  # the program whose optimum bounds every menu
                part = reference_participation(sc.participation, self.cfg.menu_acceptance)
                ref = sc.replace(participation=part)
            opt = solve_dynamic(ref)
            info["optimal_profit"] = opt.profit
            info["optimal_status"] = opt.status
            info["optimality_ratio"] = profit / opt.profit if opt.profit else float("nan")
        self._obs = None
        return obs.copy(), reward, True, False, info
