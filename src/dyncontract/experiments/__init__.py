"""Experiments layer: specs, baselines, runner (local / Ray), aggregation, figures."""
