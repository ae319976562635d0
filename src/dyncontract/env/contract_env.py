"""``dyncontract/ContractDesign-v0``: one-step design of a two-period dynamic contract.

* ``reset`` draws a market state (see :mod:`dyncontract.env.distribution`) and returns it as
  the observation, a float32 vector in [-1, 1]^obs_dim.
* ``step(action)`` reads the action (in [-1, 1]^act_dim) as a contract
  (:mod:`dyncontract.env.actions`), scores it, and ends the episode.
* ``info``: ``profit`` (expected CS profit per ES), ``feasible``, ``max_violation``, ``ok``
  (least-payment map succeeded; structured mode), and with ``oracle=True``
  ``optimal_profit`` (the exact dynamic optimum) and ``optimality_ratio``.

This is the plain numpy implementation (model layer functions, one state at a time); the
batched torch twin :class:`~dyncontract.env.batched.BatchedContractEnv` gives the same numbers.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from dyncontract.env.actions import action_dim, shaped_reward, split_action
from dyncontract.env.distribution import EnvConfig, ScenarioDistribution
from dyncontract.model.contract import Contract, expected_profit
from dyncontract.model.feasibility import check_feasibility, constraint_slacks
from dyncontract.model.scenario import Scenario
from dyncontract.solvers.payments import least_payment_contract


class ContractDesignEnv(gym.Env):
    """One-step contract design (a contextual bandit with a continuous action).

    Args:
        scenario: base scenario (default: model.md §7).
        env_config: the ``env`` config section (default: :class:`EnvConfig`).
        action_mode: ``"structured"`` or ``"raw"``; overrides ``env_config.action_mode``.
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
        if self.mode not in ("structured", "raw"):
            raise ValueError(f"action_mode: must be 'structured' or 'raw', got {self.mode!r}")
        self.oracle = oracle
        self.dist = ScenarioDistribution(self.base, self.cfg)
        K = self.base.K
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (self.dist.obs_dim,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (action_dim(K, self.mode),), np.float32)
        self.r_max = self.cfg.reward_max or float(
            self.base.alpha * np.log1p(self.base.beta * self.base.t_max)
        )
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
        return Contract(T1=T1[0], R1=R1[0], T2=T2[0], R2=R2[0]), True, sc

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        obs = self._obs
        contract, ok, sc = self.contract_for(obs, action)
        profit = expected_profit(contract, sc)
        report = check_feasibility(contract, sc, tol=self.cfg.feasibility_tol)
        slacks = constraint_slacks(contract, sc)
        total = float(sum(np.clip(-slacks[k], 0, None).sum() for k in ("IR1", "IR2", "IC1", "IC2")))
        feasible = bool(ok and report.feasible)
        reward = float(
            shaped_reward(
                profit,
                ok if self.mode == "structured" else feasible,
                report.max_violation,
                total,
                self.mode,
                self.cfg.reward_scale,
                self.cfg.infeasible_penalty,
                self.cfg.violation_penalty,
            )
        )
        info: dict[str, Any] = {
            "profit": profit,
            "feasible": feasible,
            "max_violation": report.max_violation,
            "ok": bool(ok),
        }
        if self.oracle:
            from dyncontract.solvers.exact import solve_dynamic

            opt = solve_dynamic(sc)
            info["optimal_profit"] = opt.profit
            info["optimal_status"] = opt.status
            info["optimality_ratio"] = profit / opt.profit if opt.profit else float("nan")
        self._obs = None
        return obs.copy(), reward, True, False, info
