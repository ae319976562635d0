"""The contract-design environment for a batch of states and actions, in torch (CPU or CUDA).

Same numbers as :class:`~dyncontract.env.contract_env.ContractDesignEnv` (tested to 1e-6),
computed in float64 for a whole batch at once; RL training samples from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dyncontract.env.actions import action_dim, menu_payments, shaped_reward, split_action
from dyncontract.env.distribution import PRIOR_FLOOR, EnvConfig, ScenarioDistribution
from dyncontract.model.choice import (
    choose,
    expected_profit_under_choice,
    outcome_profits,
    reference_participation,
    sampled_outcomes,
    tie_tolerance_abs,
    truthfulness,
)
from dyncontract.model.scenario import Scenario, persistence_matrix
from dyncontract.solvers.payments import least_payment_fast


class BatchedContractEnv:
    """Vectorised one-step contract design.

    Args:
        base: the base scenario (what does not vary).
        cfg: the ``env`` config section.
        action_mode: ``"structured"`` or ``"menu"`` (default: ``cfg.action_mode``).
        device: torch device for all computations.
    """

    def __init__(
        self,
        base: Scenario,
        cfg: EnvConfig | None = None,
        action_mode: str | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.cfg = cfg or EnvConfig()
        self.base = base
        self.dist = ScenarioDistribution(base, self.cfg)
        self.mode = action_mode or self.cfg.action_mode
        if self.mode not in ("structured", "menu"):
            raise ValueError(f"action_mode: must be 'structured' or 'menu', got {self.mode!r}")
        self.device = torch.device(device)
        self.K = base.K
        self.obs_dim = self.dist.obs_dim
        self.act_dim = action_dim(self.K, self.mode)
        self.r_max = self.cfg.reward_max or float(base.alpha * np.log1p(base.beta * base.t_max))
        self.rent_max = self.cfg.menu_rent_max or self.r_max / self.K
        part = reference_participation(base.participation, self.cfg.menu_acceptance)
        self.rent1_min = 0.0 if part == "per_period" else -self.rent_max
        self.tol = tie_tolerance_abs(base, self.cfg.tie_tolerance)
        self.menu_population = self.cfg.menu_population or base.n_es
        f64 = dict(dtype=torch.float64, device=self.device)
        self.theta = torch.as_tensor(base.theta, **f64)
        self.base_prior = torch.as_tensor(base.prior, **f64)
        self.base_Q = torch.as_tensor(base.transition, **f64)
        self.eye = torch.eye(self.K, **f64)
        #: the env's own sample counter: (state, action) pairs whose outcome a method observed,
        #: i.e. rows of every :meth:`step` call except scoring calls (``count=False``). In menu
        #: mode one sample is one menu posted to a population of ``menu_population`` ESs.
        self.samples = 0

    # ----- states -------------------------------------------------------------------------
    def sample_states(
        self, n: int, generator: torch.Generator | np.random.Generator | None = None
    ) -> torch.Tensor:
        """``n`` market states as observations, shape (n, obs_dim), float32 on the device."""
        if isinstance(generator, np.random.Generator):
            rng = generator
        else:
            seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
            rng = np.random.default_rng(seed)
        return torch.as_tensor(self.dist.sample(n, rng), device=self.device)

    def decode(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """obs (n, obs_dim) -> prior (n, K), Q (n, K, K), xi (n,), float64."""
        obs = obs.to(device=self.device, dtype=torch.float64)
        n, K, cfg, j = obs.shape[0], self.K, self.cfg, 0
        if self.dist.vary_prior:
            p = torch.clamp((obs[:, :K] + 1.0) / 2.0, min=PRIOR_FLOOR)
            p = p / p.sum(dim=1, keepdim=True)
            j = K
        else:
            p = self.base_prior.expand(n, K)
        if self.dist.vary_rho:
            lo, hi = cfg.persistence_range  # type: ignore[misc]
            rho = lo + (obs[:, j].clamp(-1, 1) + 1.0) / 2.0 * (hi - lo)
            Q = persistence_matrix(rho, K)
            j += 1
        else:
            Q = self.base_Q.expand(n, K, K)
        if self.dist.vary_xi:
            lo, hi = cfg.energy_price_range  # type: ignore[misc]
            xi = lo + (obs[:, j].clamp(-1, 1) + 1.0) / 2.0 * (hi - lo)
        else:
            xi = torch.full((n,), self.base.energy_price, dtype=torch.float64, device=self.device)
        return p, Q, xi

    # ----- contracts ----------------------------------------------------------------------
    def contracts(self, obs: torch.Tensor, action: torch.Tensor) -> dict[str, torch.Tensor]:
        """The contract of each (state, action): T1, R1 (n, K), T2, R2 (n, K, K), ok (n,)."""
        sc = self.base
        p, Q, xi = self.decode(obs)
        a = action.to(device=self.device, dtype=torch.float64)
        T1, T2, R1, R2 = split_action(a, self.K, sc.t_max, self.mode, self.cfg.monotone, self.r_max)
        c = xi[:, None] / self.theta  # (n, K)
        if self.mode == "menu":
            R1, R2 = menu_payments(
                R1, R2, T1, T2, c, sc.kappa, sc.tau, self.cfg.menu_payments, self.r_max,
                self.rent_max, self.rent1_min,
                self.cfg.menu_ic_scale_max, self.cfg.menu_ic_scale_min, Q, sc.discount,
            )  # fmt: skip
        if self.mode == "structured":
            E1 = sc.kappa * T1**3 / sc.tau**2
            E2 = sc.kappa * T2**3 / sc.tau**2
            R1, R2, ok = least_payment_fast(E1, E2, c, sc.discount * Q, sc.participation)
        else:
            ok = torch.ones(a.shape[0], dtype=torch.bool, device=self.device)
        return {"T1": T1, "R1": R1, "T2": T2, "R2": R2, "ok": ok, "prior": p, "Q": Q, "c": c}

    def violations(self, ct: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(max, total) violation of IR1, IR2, IC1, IC2 per contract, shape (n,) each."""
        sc = self.base
        T1, R1, T2, R2, Q, c = ct["T1"], ct["R1"], ct["T2"], ct["R2"], ct["Q"], ct["c"]
        d = sc.discount
        E1 = sc.kappa * T1**3 / sc.tau**2
        E2 = sc.kappa * T2**3 / sc.tau**2
        U1 = R1 - c * E1
        U2 = R2 - c[:, None, :] * E2
        V = U1 + d * (Q * U2).sum(-1)
        ir1 = U1 if sc.participation == "per_period" else V
        # IC2[k, i, m] = U2[k, i] - (R2[k, m] - c_i E2[k, m])
        ic2 = U2[:, :, :, None] - (R2[:, :, None, :] - c[:, None, :, None] * E2[:, :, None, :])
        # IC1[k, l] = V_k - (R1_l - c_k E1_l + d sum_i Q[k, i] U2[l, i])
        dev1 = R1[:, None, :] - c[:, :, None] * E1[:, None, :] + d * Q @ U2.transpose(1, 2)
        ic1 = (V[:, :, None] - dev1) * (1.0 - self.eye)
        neg = [(-s).clamp(min=0).flatten(1) for s in (ir1, U2, ic1, ic2)]
        allneg = torch.cat(neg, dim=1)
        return allneg.amax(dim=1), allneg.sum(dim=1)

    def profit(self, ct: dict[str, torch.Tensor]) -> torch.Tensor:
        """Expected CS profit per ES, shape (n,)."""
        sc = self.base
        G1 = sc.alpha * torch.log1p(sc.beta * ct["T1"])
        G2 = sc.alpha * torch.log1p(sc.beta * ct["T2"])
        p, Q = ct["prior"], ct["Q"]
        return (p * (G1 - ct["R1"])).sum(-1) + sc.discount * (
            p[:, :, None] * Q * (G2 - ct["R2"])
        ).sum((-1, -2))

    def menu_outcome(self, ct: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Menu mode: every ES chooses (model.choice); profit under those choices (n,),
        ``table`` (n, K, K) the profit of each type pair, ``truthful_rate``, ``truthful``,
        ``choices`` (:class:`~dyncontract.model.choice.Choices`)."""
        ch = choose(
            ct["T1"], ct["R1"], ct["T2"], ct["R2"], ct["Q"], ct["c"], self.base,
            tol=self.tol, acceptance=self.cfg.menu_acceptance,
        )  # fmt: skip
        args = (ct["T1"], ct["R1"], ct["T2"], ct["R2"])
        table = outcome_profits(ch, *args, self.base)
        profit = expected_profit_under_choice(ch, *args, ct["prior"], ct["Q"], self.base)
        rate, truthful = truthfulness(ch, ct["prior"], ct["Q"])
        return {
            "profit": profit,
            "table": table,
            "truthful_rate": rate,
            "truthful": truthful,
            "period1": ch.period1,
            "period2": ch.period2,
            "choices": ch,
        }

    @torch.no_grad()
    def step(
        self,
        obs: torch.Tensor,
        action: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        count: bool = True,
    ) -> dict[str, torch.Tensor]:
        """Rewards for a batch. obs (n, obs_dim), action (n, act_dim) in [-1, 1].

        Returns tensors of shape (n,): ``reward``, ``profit``, ``feasible`` (bool),
        ``max_violation``; in menu mode also ``truthful_rate``, ``truthful`` (= ``feasible``)
        and, with ``menu_reward: sampled``, what the CS observes from the ``menu_population``
        ESs drawn (with ``generator``) for each menu: ``sampled_profit`` and ``picks``
        (n, K + 1, K + 1), the count of each (period-1 report, period-2 report) pair, index K
        = declined (:func:`~dyncontract.model.choice.sampled_outcomes`).

        ``count``: add the n rows to :attr:`samples` (default). Scoring a policy on held-out
        states passes False: that is the experimenter's measurement, not the CS's data.
        """
        if count:
            self.samples += int(obs.shape[0])
        ct = self.contracts(obs, action)
        if self.mode == "menu":
            return self._menu_step(ct, generator)
        profit = self.profit(ct)
        max_v, _ = self.violations(ct)
        cfg = self.cfg
        ok = ct["ok"]
        feasible = ok & (max_v <= cfg.feasibility_tol)
        reward = shaped_reward(profit, ok, max_v, cfg.reward_scale, cfg.infeasible_penalty)
        return {"reward": reward, "profit": profit, "feasible": feasible, "max_violation": max_v}

    def _menu_step(
        self, ct: dict[str, torch.Tensor], generator: torch.Generator | None
    ) -> dict[str, torch.Tensor]:
        out = self.menu_outcome(ct)
        max_v, _ = self.violations(ct)
        res = {
            "profit": out["profit"],
            "feasible": out["truthful"],
            "truthful": out["truthful"],
            "truthful_rate": out["truthful_rate"],
            "max_violation": max_v,
        }
        if self.cfg.menu_reward == "sampled":
            res["sampled_profit"], res["picks"] = sampled_outcomes(
                out["table"], out["choices"], ct["prior"], ct["Q"], self.menu_population, generator
            )
            res["reward"] = res["sampled_profit"] / self.cfg.reward_scale
        else:
            res["reward"] = out["profit"] / self.cfg.reward_scale
        return res
