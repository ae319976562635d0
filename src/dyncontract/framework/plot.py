"""The simulator's figure: per-type ES utility and energy, latency edge vs cloud.

Rendered with matplotlib's object API on an Agg canvas (no pyplot state, no display) and
written atomically (temp file in the same folder, then ``os.replace``).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from dyncontract._io import atomic_write
from dyncontract.framework.simulator import SimulationResult


def render_png(res: SimulationResult, dpi: int = 120) -> bytes:
    """The figure as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    s = res.summary
    theta = np.asarray(s["theta"])
    K = len(theta)
    x = np.arange(K)
    labels = [f"{t:g}" for t in theta]
    nan = float("nan")
    u_real = np.array([nan if v is None else v for v in s["es_utility"]])
    u_exp = np.asarray(s["es_utility_expected"])
    e_mean = np.array([nan if v is None else v for v in s["energy_j_mean_by_type"]])

    fig = Figure(figsize=(14, 4.3), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(1, 3)

    w = 0.38
    ax1.bar(x - w / 2, u_real, w, label="realised (simulation)", color="tab:blue")
    ax1.bar(x + w / 2, u_exp, w, label="contract's promise V_k", color="tab:gray", alpha=0.7)
    ax1.set_xticks(x, labels)
    ax1.set_xlabel("period-1 type θ")
    ax1.set_ylabel("mean discounted ES utility (reward units)")
    ax1.set_title("ES utility per type")
    ax1.axhline(0.0, color="black", lw=0.6)
    ax1.legend(fontsize=8)

    ax2.bar(x, e_mean, 0.6, color="tab:orange")
    ax2.set_xticks(x, labels)
    ax2.set_xlabel("period-1 type θ")
    ax2.set_ylabel("mean energy per ES, both periods (J)")
    ax2.set_title("Construction energy per type")

    cloud = res.cloud_ms
    edge = res.edge_ms
    hi = float(np.percentile(cloud, 99.5))
    if edge is not None:
        hi = max(hi, float(np.percentile(edge, 99.5)))
    bins = np.linspace(0.0, hi, 80)
    lat = s["latency_ms"]
    if edge is not None:
        ax3.hist(edge, bins=bins, alpha=0.6, color="tab:green", label="edge (federated)")
        ax3.axvline(lat["edge"]["p50"], color="tab:green", ls="-", lw=1)
        ax3.axvline(lat["edge"]["p95"], color="tab:green", ls="--", lw=1)
    ax3.hist(cloud, bins=bins, alpha=0.6, color="tab:red", label="cloud (centralised)")
    ax3.axvline(lat["cloud"]["p50"], color="tab:red", ls="-", lw=1)
    ax3.axvline(lat["cloud"]["p95"], color="tab:red", ls="--", lw=1)
    ax3.set_xlabel("request latency (ms); lines: p50 solid, p95 dashed")
    ax3.set_ylabel("requests")
    ax3.set_title("Agent service latency")
    ax3.legend(fontsize=8)

    fig.suptitle(
        f"{s['n_es']} ESs, seed {s['seed']}: profit/ES {s['realized_profit_per_es']:.4f} "
        f"(expected {s['expected_profit_per_es']:.4f}), "
        f"deviations {s['deviations']}, declined {s['declined']}",
        fontsize=10,
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def write_png(path: str | os.PathLike, png: bytes) -> Path:
    """Write PNG bytes atomically."""
    return atomic_write(path, lambda fh: fh.write(png), mode="wb")
