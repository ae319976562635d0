"""pytest set-up: the test cache, one thread, the hypothesis profile, fixtures.

Helpers that tests import live in ``helpers.py``."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

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


@pytest.fixture(scope="session")
def default_scenario() -> Scenario:
    return Scenario.default()
