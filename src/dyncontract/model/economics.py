"""Energy-aware cost and utility-aware value (model.md §3–§4).

All functions broadcast over numpy arrays of workloads ``T`` (Gcycles).
"""

from __future__ import annotations

import numpy as np

from dyncontract.model.scenario import Scenario


def energy(T: np.ndarray | float, sc: Scenario) -> np.ndarray:
    """E(T) = kappa T^3 / tau^2 (J)."""
    T = np.asarray(T, dtype=float)
    return sc.kappa * T**3 / sc.tau**2


def workload_from_energy(E: np.ndarray | float, sc: Scenario) -> np.ndarray:
    """Inverse of :func:`energy`: T = (E tau^2 / kappa)^(1/3)."""
    E = np.maximum(np.asarray(E, dtype=float), 0.0)
    return np.cbrt(E * sc.tau**2 / sc.kappa)


def cpu_frequency(T: np.ndarray | float, sc: Scenario) -> np.ndarray:
    """f = T / tau (GHz)."""
    return np.asarray(T, dtype=float) / sc.tau


def cost(theta: np.ndarray | float, T: np.ndarray | float, sc: Scenario) -> np.ndarray:
    """C(theta, T) = xi E(T) / theta."""
    return sc.energy_price * energy(T, sc) / np.asarray(theta, dtype=float)


def value(T: np.ndarray | float, sc: Scenario) -> np.ndarray:
    """G(T) = alpha ln(1 + beta T): the CS's value of workload T."""
    return sc.alpha * np.log1p(sc.beta * np.asarray(T, dtype=float))
