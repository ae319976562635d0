"""EDMSAC and DMSAC: the project's diffusion learners (dyncontract.rl), trained with the
trainer and scored by the same held-out evaluator as every other method."""

from __future__ import annotations

import math
from typing import Any

from dyncontract.experiments.composition import evaluate_run, tensorboard_dir, train_run
from dyncontract.experiments.methods.base import MethodContext
from dyncontract.rl.budget import Budget
from dyncontract.rl.rundir import RunDir


def run_diffusion(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    """Train (resuming from a checkpoint if one is there; curves on validation states), then
    score the final actor on the test states and time it."""
    resume = RunDir(ctx.run_dir).checkpoint.exists()
    rows = train_run(
        ctx.cfg,
        ctx.run_dir,
        budget,
        resume=resume,
        seed=seed,
        quiet=True,
        cache_dir=ctx.cache_dir,
        tensorboard=tensorboard_dir(ctx.run_dir),
        test_curve=ctx.test_curve,
    )
    ev = evaluate_run(
        ctx.run_dir, states=ctx.cfg.env.held_out_states, cache_dir=ctx.cache_dir, split="test"
    )
    ctx.final = {k: ev[k] for k in ev if k.startswith(("ratio_", "feasible_", "profit_", "beats_"))}
    last = rows[-1]
    upd = last.get("updates") or 0
    ctx.extras.update(
        ms_per_update=1000.0 * float(last["wall_s"]) / upd if upd else math.nan,
        pruning_ratio=ev["pruning_ratio"],
        compact_max_abs_diff=ev["compact_max_abs_diff"],
        hidden_widths=ev["hidden_widths"],
        denoise_ms_per_1k_states=ev.get("denoise_ms_per_1k_states"),
    )
    return [{**r, "samples": r["step"]} for r in rows]
