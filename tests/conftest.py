"""Shared test helpers: random scenarios (hypothesis strategies) and small fixtures."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from dyncontract.model.scenario import Scenario

os.environ.setdefault("DYNCONTRACT_CACHE", os.path.join(os.path.dirname(__file__), ".cache"))
os.environ.setdefault("OMP_NUM_THREADS", "1")

settings.register_profile(
    "dyncontract",
    deadline=None,
    max_examples=15,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
settings.load_profile("dyncontract")


def random_scenario(rng: np.random.Generator, K: int | None = None, **kw: object) -> Scenario:
    """A random but well-conditioned scenario (random types, prior, transition, prices)."""
    K = K or int(rng.integers(2, 5))
    theta = np.cumsum(rng.uniform(0.2, 1.0, K)) + rng.uniform(0.5, 1.0)
    prior = rng.dirichlet(np.ones(K)) * 0.9 + 0.1 / K
    Q = rng.dirichlet(np.ones(K), size=K) * 0.5 + 0.5 * np.eye(K) * rng.uniform(0, 1)
    Q = Q / Q.sum(axis=1, keepdims=True)
    args = dict(
        theta=theta.tolist(),
        prior=(prior / prior.sum()).tolist(),
        transition=Q.tolist(),
        discount=float(rng.uniform(0.3, 1.0)),
        alpha=float(rng.uniform(5, 15)),
        beta=float(rng.uniform(0.2, 1.0)),
        energy_price=float(rng.uniform(0.03, 0.1)),
    )
    args.update(kw)
    return Scenario.default(**args)


@st.composite
def scenarios(draw: st.DrawFn, K: int | None = None, **kw: object) -> Scenario:
    seed = draw(st.integers(0, 2**31 - 1))
    return random_scenario(np.random.default_rng(seed), K=K, **kw)


@pytest.fixture(scope="session")
def default_scenario() -> Scenario:
    return Scenario.default()


#: The small network sizes the rl unit tests share (fast on 2 cores).
TINY_RL = dict(
    actor_hidden=32, actor_layers=2, critic_hidden=32, critic_layers=1, state_embed_dim=8
)


def tiny_rl_config(**overrides: object):
    """An RLConfig with tiny networks; ``overrides`` replace any field."""
    from dyncontract.rl.config import RLConfig

    return RLConfig(**{**TINY_RL, **overrides})
