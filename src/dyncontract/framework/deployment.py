"""Integration of modules into agents, edge deployment and serving (docs/framework.md §4–§5).

* **Integration.** In each period the CS pools the modules built that period by kind and
  assembles agents from one module of each kind (perception, memory, planning, action),
  matching modules at random within each kind; the number of agents is the count of the
  scarcest kind and the rest wait unused. An agent's quality aggregates its four module
  qualities q = ln(1 + beta T) by ``mean`` (default), ``min`` (weakest link) or
  ``geometric`` mean.
* **Deployment.** The agents are deployed at the ESs that took part in the period they were
  built in (the latest period with at least one agent). A user's request arrives at a
  uniformly random ES; if that ES hosts no agent it is forwarded to one that does
  (one extra inter-ES round trip).
* **Serving.** Edge design: access RTT + transfer of the request's raw input to the ES +
  edge inference (+ forwarding). Cloud-centralised baseline: WAN RTT + transfer of the raw
  input to the cloud + cloud inference. Medians are configured; each draw multiplies an
  RTT or inference time by an independent lognormal factor exp(sigma Z).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyncontract.framework.config import MODULE_KINDS, LatencyConfig


@dataclass(frozen=True)
class AgentBatch:
    """Agents assembled from one period's modules."""

    n_agents: int
    quality: np.ndarray  # (n_agents,)
    modules_by_kind: tuple[int, ...]  # modules of each kind available

    @property
    def unused_modules(self) -> int:
        return int(sum(self.modules_by_kind) - len(MODULE_KINDS) * self.n_agents)


def assemble_agents(
    kinds: np.ndarray, quality: np.ndarray, rng: np.random.Generator, rule: str = "mean"
) -> AgentBatch:
    """Agents from modules ``kinds`` (int codes into MODULE_KINDS) with ``quality``."""
    kinds = np.asarray(kinds, int)
    quality = np.asarray(quality, float)
    n_kinds = len(MODULE_KINDS)
    counts = tuple(int(np.count_nonzero(kinds == j)) for j in range(n_kinds))
    n = min(counts)
    if n == 0:
        return AgentBatch(0, np.zeros(0), counts)
    parts = np.empty((n_kinds, n))
    for j in range(n_kinds):
        q = quality[kinds == j]
        parts[j] = q[rng.permutation(q.shape[0])[:n]]
    if rule == "mean":
        agent_q = parts.mean(axis=0)
    elif rule == "min":
        agent_q = parts.min(axis=0)
    elif rule == "geometric":
        agent_q = np.exp(np.mean(np.log(np.maximum(parts, 1e-300)), axis=0))
        agent_q = np.where(parts.min(axis=0) > 0, agent_q, 0.0)
    else:  # pragma: no cover - validated by the config
        raise ValueError(f"agent_quality: unknown rule {rule!r}")
    return AgentBatch(n, agent_q, counts)


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    if sigma == 0:
        return np.full(n, float(median))
    return median * np.exp(sigma * rng.standard_normal(n))


def transfer_ms(n_bytes: float, mbps: float) -> float:
    """Time (ms) to send ``n_bytes`` at ``mbps`` megabits per second."""
    return 8.0 * n_bytes / (mbps * 1e6) * 1e3


@dataclass(frozen=True)
class ServingResult:
    edge_ms: np.ndarray | None  # None when no agent was deployed at the edge
    cloud_ms: np.ndarray
    edge_coverage: float  # fraction of ESs hosting an agent
    forwarded: int  # edge requests forwarded to another ES


def serve_requests(
    cfg: LatencyConfig, coverage: float, agents_available: bool, rng: np.random.Generator
) -> ServingResult:
    """Latencies of ``cfg.n_requests`` user requests in both designs.

    ``coverage`` is the fraction of ESs that host an agent; a request landing on an ES
    without one is forwarded (extra inter-ES RTT). The cloud draws are made first so that
    they do not depend on the edge's state.
    """
    n = cfg.n_requests
    cloud = (
        _lognormal(rng, cfg.cloud_rtt_ms, cfg.rtt_sigma, n)
        + transfer_ms(cfg.request_bytes, cfg.cloud_uplink_mbps)
        + _lognormal(rng, cfg.cloud_inference_ms, cfg.inference_sigma, n)
    )
    edge = (
        _lognormal(rng, cfg.edge_rtt_ms, cfg.rtt_sigma, n)
        + transfer_ms(cfg.request_bytes, cfg.edge_uplink_mbps)
        + _lognormal(rng, cfg.edge_inference_ms, cfg.inference_sigma, n)
    )
    forward = rng.random(n) >= coverage
    edge = edge + np.where(forward, _lognormal(rng, cfg.inter_es_rtt_ms, cfg.rtt_sigma, n), 0.0)
    if not agents_available:
        return ServingResult(None, cloud, 0.0, 0)
    return ServingResult(edge, cloud, float(coverage), int(np.count_nonzero(forward)))
