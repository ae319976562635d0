"""Prototype (stop 21, not part of the package): ``dyncontract`` with an environment-side
soft-choice curriculum in menu mode. During training the batched env's reward is the
expected profit under softmax choices at temperature tau, annealed geometrically from TAU0
to TAU1 until training progress END, then the hard choice; the learner sees only rewards.
Evaluation uses ``profit`` (the hard choice), which this wrapper does not touch.

    TAU0=1 TAU1=1e-3 END=0.7 python soft_drv.py train --algo edmsac --set env.action_mode=menu ...
"""

import os
import sys

from dyncontract.env import batched
from dyncontract.env.menu_smooth import soft_menu_profit
from dyncontract.rl import budget

TAU0 = float(os.environ.get("TAU0", "1.0"))
TAU1 = float(os.environ.get("TAU1", "1e-3"))
END = float(os.environ.get("END", "0.7"))
PROGRESS = {"p": 0.0}
_progress = budget.Budget.progress
_step = batched.BatchedContractEnv.step


def progress(self, step, elapsed):  # type: ignore[no-untyped-def]
    p = _progress(self, step, elapsed)
    PROGRESS["p"] = max(PROGRESS["p"], p)
    return p


def step(self, obs, action, generator=None):  # type: ignore[no-untyped-def]
    out = _step(self, obs, action, generator)
    f = min(1.0, PROGRESS["p"] / END)
    if self.mode == "menu" and obs.shape[0] > 0 and f < 1.0:
        tau = TAU0 * (TAU1 / TAU0) ** f
        soft = soft_menu_profit(self, obs.double(), action.double(), tau)
        out = dict(out, reward=soft.to(out["reward"].dtype) / self.cfg.reward_scale)
    return out


budget.Budget.progress = progress
batched.BatchedContractEnv.step = step

from dyncontract.cli.main import main  # noqa: E402

sys.exit(main())
