"""A fixed held-out set of market states with their exact optima, computed once and cached."""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from dyncontract._io import atomic_write
from dyncontract.env.distribution import EnvConfig, ScenarioDistribution
from dyncontract.model.scenario import Scenario
from dyncontract.solvers.exact import OPTIMAL, solve_dynamic
from dyncontract.solvers.reference import static_contract

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    root = os.environ.get("DYNCONTRACT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "dyncontract"
    )
    return Path(root) / "heldout"


@dataclass
class HeldOutSet:
    """``obs`` (n, obs_dim) float32; ``optimal_profit``, ``static_profit`` (n,) float64."""

    obs: np.ndarray
    optimal_profit: np.ndarray
    static_profit: np.ndarray
    all_optimal: bool
    #: the best static contract's profit per state (None: not computed)
    static_best_profit: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.obs.shape[0])

    @staticmethod
    def key(base: Scenario, cfg: EnvConfig, n: int, seed: int) -> str:
        dist_fields = cfg.model_dump(
            mode="json",
            include={"prior_concentration", "persistence_range", "energy_price_range"},
        )
        blob = json.dumps(
            [CACHE_VERSION, base.to_config().model_dump(mode="json"), dist_fields, n, seed],
            sort_keys=True,
        )
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
    ) -> HeldOutSet:
        """Sample ``n`` states with ``seed`` and solve their exact dynamic and static optima.

        Results are cached in ``cache_dir`` (default ``$DYNCONTRACT_CACHE`` or
        ``~/.cache/dyncontract``) under a key of everything that determines them; pass
        ``cache_dir=False``-like ``""`` to disable caching.
        """
        n = cfg.held_out_states if n is None else n
        seed = cfg.held_out_seed if seed is None else seed
        path = None
        if cache_dir != "":
            path = Path(cache_dir or default_cache_dir()) / f"{cls.key(base, cfg, n, seed)}.npz"
            if path.exists():
                try:
                    with np.load(path) as z:
                        return cls(z["obs"], z["optimal"], z["static"], bool(z["all_optimal"]))
                except (OSError, KeyError, ValueError):
                    pass  # a damaged cache entry is recomputed
        dist = ScenarioDistribution(base, cfg)
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
        out = cls(obs, opt, stat, bool(all_opt))
        if path is not None:
            buf = io.BytesIO()
            np.savez(buf, obs=obs, optimal=opt, static=stat, all_optimal=all_opt)
            atomic_write(path, lambda fh: fh.write(buf.getvalue()), mode="wb")
        return out
