"""A fixed held-out set of market states with their exact optima, computed once and cached."""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm.auto import tqdm

from dyncontract._io import atomic_write
from dyncontract.env.distribution import EnvConfig, ScenarioDistribution
from dyncontract.model.choice import reference_participation
from dyncontract.model.scenario import Scenario
from dyncontract.solvers.exact import OPTIMAL, solve_dynamic
from dyncontract.solvers.reference import static_best, static_contract

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    root = os.environ.get("DYNCONTRACT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "dyncontract"
    )
    return Path(root) / "heldout"


Split = Literal["validation", "test"]
SPLITS: tuple[str, ...] = ("validation", "test")


def reference_base(base: Scenario, cfg: EnvConfig) -> Scenario:
    """The scenario whose exact programs bound what the env's contracts can earn: ``base``
    itself, except in menu mode with ``menu_acceptance: forward_looking``, where ESs accept
    a period-1 loss their continuation repays and the ``ex_ante`` program is the bound
    (:func:`~dyncontract.model.choice.reference_participation`). The optimum and the static
    references of the held-out states are solved for it."""
    if cfg.action_mode != "menu":
        return base
    part = reference_participation(base.participation, cfg.menu_acceptance)
    return base if part == base.participation else base.replace(participation=part)


def split_seed(cfg: EnvConfig, split: str) -> int:
    """The seed of a split: ``env.held_out_seed`` (validation) or ``env.test_seed`` (test)."""
    if split not in SPLITS:
        raise ValueError(f"split: must be one of {list(SPLITS)}, got {split!r}")
    return cfg.held_out_seed if split == "validation" else cfg.test_seed


@dataclass
class HeldOutSet:
    """``obs`` (n, obs_dim) float32; ``optimal_profit``, ``static_profit`` (n,) float64.

    ``static_profit`` is the myopic static contract's (``static_contract``),
    ``static_best_profit`` the best single menu's (``static_best``). ``split`` and ``seed``
    say which states these are.
    """

    obs: np.ndarray
    optimal_profit: np.ndarray
    static_profit: np.ndarray
    all_optimal: bool
    split: str = "validation"
    seed: int | None = None
    static_best_profit: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.obs.shape[0])

    @staticmethod
    def key(base: Scenario, cfg: EnvConfig, n: int, seed: int, split: str = "validation") -> str:
        """Cache key. The split enters it except for "validation", whose keys are unchanged
        from before the split existed (old caches stay valid)."""
        dist_fields = cfg.model_dump(
            mode="json",
            include={"prior_concentration", "persistence_range", "energy_price_range"},
        )
        parts: list[object] = [
            CACHE_VERSION,
            base.to_config().model_dump(mode="json"),
            dist_fields,
            n,
            seed,
        ]
        if split != "validation":
            parts.append(split)
        ref = reference_base(base, cfg)
        if ref.participation != base.participation:  # (other keys unchanged)
            parts.append({"reference_participation": ref.participation})
        blob = json.dumps(parts, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    @classmethod
    def build(
        cls,
        base: Scenario,
        cfg: EnvConfig,
        n: int | None = None,
        seed: int | None = None,
        cache_dir: str | os.PathLike | None = None,
        progress: bool = False,
        split: Split = "validation",
    ) -> HeldOutSet:
        """Sample ``n`` states of ``split`` and solve their exact dynamic and static optima.

        ``split="validation"`` (default) uses ``cfg.held_out_seed``, ``"test"`` uses
        ``cfg.test_seed``; an explicit ``seed`` overrides either. Results are cached in
        ``cache_dir`` (default ``$DYNCONTRACT_CACHE`` or ``~/.cache/dyncontract``) under a key of
        everything that determines them; pass ``cache_dir=""`` to disable caching. A cache
        entry written before ``static_best_profit`` existed is completed and rewritten.
        """
        n = cfg.held_out_states if n is None else n
        ref = reference_base(base, cfg)
        default_seed = split_seed(cfg, split)  # also checks the split's name
        seed = default_seed if seed is None else seed
        path = None
        if cache_dir != "":
            key = cls.key(base, cfg, n, seed, split)
            path = Path(cache_dir or default_cache_dir()) / f"{key}.npz"
            if path.exists():
                try:
                    with np.load(path) as z:
                        out = cls(
                            z["obs"],
                            z["optimal"],
                            z["static"],
                            bool(z["all_optimal"]),
                            split,
                            seed,
                            z["static_best"] if "static_best" in z.files else None,
                        )
                    if out.static_best_profit is None:
                        out.static_best_profit, ok = _static_best(
                            ScenarioDistribution(ref, cfg).scenarios(out.obs), progress
                        )
                        out.all_optimal &= ok
                        out._save(path)
                    return out
                except (OSError, KeyError, ValueError):
                    pass  # a damaged cache entry is recomputed
        dist = ScenarioDistribution(ref, cfg)  # states drawn as for base (participation fixed)
        obs = dist.sample(n, np.random.default_rng(seed))
        opt = np.empty(n)
        stat = np.empty(n)
        all_opt = True
        scenarios = dist.scenarios(obs)
        for i, sc in enumerate(tqdm(scenarios, desc="exact optima", disable=not progress)):
            r = solve_dynamic(sc)
            s = static_contract(sc)
            all_opt &= r.status == OPTIMAL and s.status == OPTIMAL
            opt[i], stat[i] = r.profit, s.profit
        best, ok = _static_best(scenarios, False)
        out = cls(obs, opt, stat, bool(all_opt and ok), split, seed, best)
        if path is not None:
            out._save(path)
        return out

    def _save(self, path: Path) -> None:
        buf = io.BytesIO()
        np.savez(
            buf,
            obs=self.obs,
            optimal=self.optimal_profit,
            static=self.static_profit,
            static_best=self.static_best_profit,
            all_optimal=self.all_optimal,
            split=self.split,
            seed=-1 if self.seed is None else self.seed,
        )
        atomic_write(path, lambda fh: fh.write(buf.getvalue()), mode="wb")


def _static_best(scenarios: list[Scenario], progress: bool) -> tuple[np.ndarray, bool]:
    prof = np.empty(len(scenarios))
    ok = True
    for i, sc in enumerate(tqdm(scenarios, desc="static_best", disable=not progress)):
        r = static_best(sc)
        ok &= r.status == OPTIMAL
        prof[i] = r.profit
    return prof, bool(ok)
