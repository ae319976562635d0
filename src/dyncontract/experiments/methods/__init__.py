"""The methods registry: every method an experiment can run, learned or reference.

Each entry is a :class:`~dyncontract.experiments.methods.base.Method` with the same
``run(ctx, seed, budget) -> rows`` shape. Adding a method = one new file with its ``run``
function plus one line here. Order = the order of tables (learners first).
"""

from __future__ import annotations

from dyncontract.experiments.methods import (
    amortised,
    cma_free,
    estimate_solve,
    exact,
    heuristics,
    menu,
    sb3,
    static_free,
)
from dyncontract.experiments.methods.base import Method, MethodContext
from dyncontract.experiments.methods.diffusion import run_diffusion
from dyncontract.experiments.methods.model_free import free


def _menu(algo: str | None = None) -> dict:
    """Config overrides of a menu-mode method (``env.action_mode: menu``)."""
    cfg: dict = {"env": {"action_mode": "menu"}}
    if algo is not None:
        cfg["rl"] = {"algo": algo}
    return cfg


def _diffusion_free(algo: str) -> Method:
    """A learner of the trainer in the model-free menu setting (``<algo>_free``)."""
    return Method(f"{algo}_free", run_diffusion, resumable=True, config=free(algo), test_curve=True)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("edmsac", run_diffusion, resumable=True, config={"rl": {"algo": "edmsac"}}),
        Method("dmsac", run_diffusion, resumable=True, config={"rl": {"algo": "dmsac"}}),
        Method("gsac", run_diffusion, resumable=True, config={"rl": {"algo": "gsac"}}),
        Method("sac", sb3.run_sac),
        Method("td3", sb3.run_td3),
        Method("ppo", sb3.run_ppo),
        Method("direct", amortised.run_direct),
        Method("supervised", amortised.run_supervised),
        Method("per_state", amortised.run_per_state),
        # menu mode: the policy proposes the whole menu, ESs self-select
        Method("edmsac_menu", run_diffusion, resumable=True, config=_menu("edmsac")),
        Method("dmsac_menu", run_diffusion, resumable=True, config=_menu("dmsac")),
        Method("gsac_menu", run_diffusion, resumable=True, config=_menu("gsac")),
        Method("sac_menu", sb3.run_sac, config=_menu()),
        Method("direct_smooth", menu.run_direct_smooth, config=_menu()),
        Method("cma", menu.run_cma, config=_menu()),
        # the model-free menu setting (methods/model_free.py): the CS does not know the types
        _diffusion_free("edmsac"),
        _diffusion_free("dmsac"),
        _diffusion_free("gsac"),
        Method("sac_free", sb3.run_sac, config=free(), test_curve=True),
        Method("cma_free", cma_free.run, config=free(), test_curve=True),
        Method("static_free", static_free.run, config=free(), test_curve=True),
        Method("estimate_solve", estimate_solve.run, config=free(), test_curve=True),
        Method("random", heuristics.run_random),
        Method("greedy", heuristics.run_greedy, seedless=True),
        Method("static_myopic", exact.run_static_myopic, seedless=True),
        Method("static_best", exact.run_static_best, seedless=True),
        Method("static_redesign", exact.run_static_redesign, seedless=True),
        Method("complete_info", exact.run_complete_info, seedless=True),
        Method("exact_dynamic", exact.run_exact_dynamic, seedless=True),
    )
}

__all__ = ["METHODS", "Method", "MethodContext"]
