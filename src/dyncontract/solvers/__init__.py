"""Solvers layer: exact convex programs, reference contracts, least payments."""

from dyncontract.solvers.exact import (
    IC1_ALL_UP_TO_K,
    OPTIMAL,
    MenuResult,
    SolveResult,
    solve_dynamic,
    solve_menu,
)
from dyncontract.solvers.payments import (
    PaymentResult,
    least_payment_contract,
    least_payment_fast,
    least_payment_lp,
)
from dyncontract.solvers.reference import (
    References,
    complete_info,
    first_best_workload,
    solve_references,
    static_best,
    static_contract,
    static_redesign,
)

__all__ = [
    "IC1_ALL_UP_TO_K",
    "OPTIMAL",
    "MenuResult",
    "PaymentResult",
    "References",
    "SolveResult",
    "complete_info",
    "first_best_workload",
    "least_payment_contract",
    "least_payment_fast",
    "least_payment_lp",
    "solve_dynamic",
    "solve_menu",
    "solve_references",
    "static_best",
    "static_contract",
    "static_redesign",
]
