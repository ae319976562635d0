"""A construction's outputs: the summary text, CSV tables, the figure and the run folder.

A run folder holds ``report.json`` (everything), ``es.csv`` (one row per ES and period),
``periods.csv`` (one row per period plus the reference agents), ``messages.json`` (every
reply the CS received, summarised: record kinds, array names and shapes, scalar values),
``construction.png``, the agents' weights ``agent_p1.pt`` / ``agent_p2.pt`` (state dicts;
load with ``torch.load(path, weights_only=True)``), ``contract.json`` and ``config.yaml``.
The folder is assembled under a temporary name and renamed when complete, so a failed run
leaves nothing behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ES_COLUMNS = (
    "period", "es", "type", "theta", "item", "declined", "truthful",
    "workload_contracted_gcycles", "steps_contracted", "steps_done", "workload_done_gcycles",
    "completed", "cpu_train_s", "cpu_data_s", "energy_j", "cost", "payment", "utility",
)  # fmt: skip
PERIOD_COLUMNS = (
    "row", "success_rate", "success_se", "mean_episode_length", "eval_missions",
    "participants", "completed", "workload_contracted_gcycles", "workload_done_gcycles",
    "cpu_train_s", "payments", "value", "realised_profit", "predicted_profit",
)  # fmt: skip


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    return buf.getvalue()


def es_csv(report: dict[str, Any]) -> str:
    return _csv(report["es"], ES_COLUMNS)


def periods_csv(report: dict[str, Any]) -> str:
    rows = [{"row": f"period {p['period']}", **p} for p in report["periods"]]
    for name, ref in report["references"].items():
        rows.append(
            {
                "row": f"reference: {name}",
                "success_rate": ref["success_rate"],
                "success_se": ref["success_se"],
                "mean_episode_length": ref["mean_length"],
                "eval_missions": ref["episodes"],
            }
        )
    return _csv(rows, PERIOD_COLUMNS)


def render_figure(report: dict[str, Any], fmt: str = "png", dpi: int = 120) -> bytes:
    """The run's figure: agent quality per period against the references, every ES's work
    contracted vs done, and the CS's profit realised vs predicted."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(14, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(1, 3)

    per = report["periods"]
    q = [p["success_rate"] for p in per]
    se = [p["success_se"] for p in per]
    ax1.bar([1, 2], q, 0.5, yerr=[1.96 * s for s in se], color="tab:blue", capsize=4)
    styles = {"bot": ("tab:green", "--"), "random": ("tab:red", ":"), "untrained": ("gray", "-.")}
    for name, ref in report["references"].items():
        color, ls = styles.get(name, ("black", "-"))
        ax1.axhline(
            ref["success_rate"], color=color, ls=ls, label=f"{name} {ref['success_rate']:.2f}"
        )
    ax1.set_xticks([1, 2], ["agent v1\n(after period 1)", "agent v2\n(after period 2)"])
    ax1.set_ylim(0, 1.05)
    ax1.set_ylabel(f"success rate on {per[0]['eval_missions']} held-out missions")
    ax1.set_title("Integrated agent")
    if report["references"]:
        ax1.legend(fontsize=8, loc="lower right")

    rows = report["es"]
    n = report["n_es"]
    x = np.arange(n)
    w = 0.2
    for j, p in enumerate((1, 2)):
        r = sorted((row for row in rows if row["period"] == p), key=lambda row: row["es"])
        ax2.bar(
            x + (2 * j - 1.5) * w,
            [row["workload_contracted_gcycles"] for row in r],
            w,
            color=("tab:gray", "silver")[j],
            label=f"period {p}: contracted",
        )
        ax2.bar(
            x + (2 * j - 0.5) * w,
            [row["workload_done_gcycles"] for row in r],
            w,
            color=("tab:blue", "tab:cyan")[j],
            label=f"period {p}: done",
        )
    ax2.set_xticks(x if n <= 25 else x[:: max(1, n // 20)])
    ax2.set_xlabel("ES")
    ax2.set_ylabel("workload (Gcycles)")
    ax2.set_title("Work per ES (0 = declined or failed)")
    ax2.legend(fontsize=7, ncol=2)

    labels = ["period 1", "period 2"]
    real = [p["realised_profit"] for p in per]
    pred = [p["predicted_profit"] for p in per]
    pay = [p["payments"] for p in per]
    xx = np.arange(2)
    ax3.bar(xx - 0.25, real, 0.25, label="realised: V q − payments", color="tab:blue")
    ax3.bar(xx, pred, 0.25, label="model: Σ G(T) − R", color="tab:gray")
    ax3.bar(xx + 0.25, pay, 0.25, label="payments", color="tab:orange")
    ax3.set_xticks(xx, labels)
    ax3.set_ylabel("CS profit (model units)")
    ax3.set_title("CS profit per period")
    ax3.axhline(0, color="black", lw=0.6)
    ax3.legend(fontsize=8)

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, tuple):
        return list(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def write_run(out: Path, construction: Any, contract: dict[str, Any], config_yaml: str) -> Path:
    """Write the run folder ``out`` (see the module docstring) atomically."""
    import torch

    report = dict(construction.report)
    received = report.pop("received", [])
    png = render_figure(report)  # rendered before anything is written
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        (tmp / "report.json").write_text(json.dumps(report, indent=2, default=_jsonable) + "\n")
        (tmp / "messages.json").write_text(json.dumps(received, indent=1, default=_jsonable) + "\n")
        (tmp / "es.csv").write_text(es_csv(report))
        (tmp / "periods.csv").write_text(periods_csv(report))
        (tmp / "construction.png").write_bytes(png)
        (tmp / "contract.json").write_text(json.dumps(contract, indent=2) + "\n")
        (tmp / "config.yaml").write_text(config_yaml)
        for p, w in enumerate(construction.weights, start=1):
            torch.save(
                {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in w.items()},
                tmp / f"agent_p{p}.pt",
            )
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


#: Report fields that are measurements of this machine's time (they differ between two runs
#: of the same seed; everything else is determined by the seed and the calibration figure).
MEASURED_KEYS = frozenset(
    {"measured", "calibration", "received", "deployment", "wall_s", "cpu_train_s", "cpu_data_s"}
)


def strip_measurements(x: Any) -> Any:
    """The report without its time measurements (:data:`MEASURED_KEYS`, at any depth)."""
    if isinstance(x, dict):
        return {k: strip_measurements(v) for k, v in x.items() if k not in MEASURED_KEYS}
    if isinstance(x, list):
        return [strip_measurements(v) for v in x]
    return x


def privacy_violations(received: list[dict[str, Any]], shapes: dict[str, tuple]) -> list[str]:
    """What in the CS's received messages is not a parameter of the agent (name and shape in
    ``shapes``) or a scalar metric: one line per violation (none: the run kept raw data at
    the edge)."""
    bad = []
    for i, msg in enumerate(received):
        for name, rec in msg.get("records", {}).items():
            if rec["kind"] == "ArrayRecord":
                for key, shape in rec["items"].items():
                    if key not in shapes:
                        bad.append(f"message {i}: array {key!r} is not an agent parameter")
                    elif tuple(shape) != tuple(shapes[key]):
                        bad.append(f"message {i}: array {key!r} has shape {tuple(shape)}")
            elif rec["kind"] == "MetricRecord":
                for key, value in rec["items"].items():
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        bad.append(f"message {i}: metric {key!r} is not a scalar")
            else:
                bad.append(f"message {i}: record {name!r} is a {rec['kind']}")
    return bad
