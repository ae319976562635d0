"""Validation / test split of the held-out states."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pydantic import ValidationError

from dyncontract.env import EnvConfig, HeldOutSet
from dyncontract.env import heldout as heldout_mod
from dyncontract.model import Scenario
from dyncontract.solvers import static_best


def _no_solves(monkeypatch) -> None:
    def boom(*a, **k):  # noqa: ANN002, ANN003
        raise AssertionError("the cache should have answered")

    for name in ("solve_dynamic", "static_contract", "static_best"):
        monkeypatch.setattr(heldout_mod, name, boom)


def test_validation_and_test_are_disjoint_and_both_cached(tmp_path, monkeypatch) -> None:
    base, cfg = Scenario.default(), EnvConfig()
    assert (cfg.held_out_seed, cfg.test_seed) == (12345, 2027)
    val = HeldOutSet.build(base, cfg, n=6, cache_dir=tmp_path, split="validation")
    test = HeldOutSet.build(base, cfg, n=6, cache_dir=tmp_path, split="test")
    assert (val.split, val.seed, test.split, test.seed) == ("validation", 12345, "test", 2027)
    assert len(list(tmp_path.glob("*.npz"))) == 2
    rows_v = {tuple(r) for r in val.obs.tolist()}
    rows_t = {tuple(r) for r in test.obs.tolist()}
    assert rows_v.isdisjoint(rows_t)
    assert val.all_optimal and test.all_optimal
    for h in (val, test):  # myopic <= best single menu <= dynamic optimum
        assert h.static_best_profit is not None
        assert np.all(h.static_profit <= h.static_best_profit + 1e-6)
        assert np.all(h.static_best_profit <= h.optimal_profit + 1e-6)
    # both answered from the cache now, with the same numbers
    _no_solves(monkeypatch)
    val2 = HeldOutSet.build(base, cfg, n=6, cache_dir=tmp_path)  # default split: validation
    test2 = HeldOutSet.build(base, cfg, n=6, cache_dir=tmp_path, split="test")
    np.testing.assert_array_equal(val2.obs, val.obs)
    np.testing.assert_array_equal(test2.obs, test.obs)
    np.testing.assert_array_equal(test2.optimal_profit, test.optimal_profit)
    np.testing.assert_array_equal(test2.static_best_profit, test.static_best_profit)
    assert test2.split == "test"


def test_old_signature_and_old_cache_entries_still_work(tmp_path) -> None:
    base, cfg = Scenario.default(), EnvConfig()
    h = HeldOutSet.build(base, cfg, n=4, seed=4, cache_dir=tmp_path)  # as before the split
    assert h.split == "validation" and h.seed == 4
    # a cache entry in the old format (no static_best): same key, completed on load
    key = HeldOutSet.key(base, cfg, 4, 4)
    path = tmp_path / f"{key}.npz"
    assert path.exists()
    buf = io.BytesIO()
    np.savez(buf, obs=h.obs, optimal=h.optimal_profit, static=h.static_profit, all_optimal=True)
    path.write_bytes(buf.getvalue())
    old = HeldOutSet.build(base, cfg, n=4, seed=4, cache_dir=tmp_path)
    sc = heldout_mod.ScenarioDistribution(base, cfg).scenarios(h.obs)
    expected = np.array([static_best(s).profit for s in sc])
    np.testing.assert_allclose(old.static_best_profit, expected, rtol=1e-9)
    with np.load(path) as z:
        assert "static_best" in z.files  # rewritten


def test_split_seeds_must_differ_and_split_names_are_checked(tmp_path) -> None:
    with pytest.raises(ValidationError, match="test_seed"):
        EnvConfig(test_seed=12345)
    with pytest.raises(ValueError, match="split"):
        HeldOutSet.build(Scenario.default(), EnvConfig(), n=2, cache_dir=tmp_path, split="train")
    # another test seed gives other test states
    a = HeldOutSet.build(Scenario.default(), EnvConfig(), n=3, cache_dir="", split="test")
    b = HeldOutSet.build(
        Scenario.default(), EnvConfig(test_seed=7), n=3, cache_dir="", split="test"
    )
    assert not np.allclose(a.obs, b.obs)
