"""docs/results.md from committed data: every number there comes from a file under docs/data/.

* :func:`export` copies an experiment's tables (summary.csv, time_to_threshold.csv) into a data
  folder with ``provenance.json`` (the command, git revision, date, machine);
* :func:`render` writes the results page from every data folder it finds. Run
  ``dyncontract results`` after exporting; the page is never edited by hand.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dyncontract._io import write_json_atomic, write_text_atomic
from dyncontract.experiments.aggregate import HEADINGS, SUMMARY_COLUMNS, SUMMARY_NOTE, _fmt

PROVENANCE = "provenance.json"


def git_revision(cwd: str | os.PathLike | None = None) -> str:
    """The checkout's HEAD (``+dirty`` when there are uncommitted changes), or ``unknown``."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance(command: str, note: str = "") -> dict[str, Any]:
    return {
        "command": command,
        "git_revision": git_revision(Path(__file__).parent),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "python": sys.version.split()[0],
        "note": note,
    }


def export(
    experiment_dir: str | os.PathLike, dest: str | os.PathLike, command: str, note: str = ""
) -> Path:
    """Copy an experiment's tables into ``dest`` with their provenance."""
    src, dst = Path(experiment_dir), Path(dest)
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("summary.csv", "time_to_threshold.csv", "f3.csv", "cost.csv"):
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)
    write_json_atomic(dst / PROVENANCE, provenance(command, note))
    return dst


def _table(df: pd.DataFrame, columns: list[str], headings: dict[str, str]) -> list[str]:
    def cell(v: Any, c: str) -> str:
        return (
            str(v)
            if isinstance(v, int | np.integer) and c not in ("samples", "updates")
            else _fmt(v, c)
        )

    lines = ["| " + " | ".join(headings.get(c, c) for c in columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    for r in df.to_dict("records"):
        lines.append("| " + " | ".join(cell(r[c], c) for c in columns) + " |")
    return lines


def _section(folder: Path) -> list[str]:
    prov = json.loads((folder / PROVENANCE).read_text())
    lines = [f"## `{folder.name}`", ""]
    lines += [
        f"Command: `{prov['command']}` — git `{prov['git_revision'][:12]}`, "
        f"{prov['date_utc']} UTC, {prov['machine']}."
    ]
    if prov.get("note"):
        lines += ["", prov["note"]]
    if (folder / "summary.csv").exists():
        summary = pd.read_csv(folder / "summary.csv")
        cols = [c for c in SUMMARY_COLUMNS if c in summary.columns]
        lines += ["", *_table(summary, cols, HEADINGS), "", SUMMARY_NOTE]
    if (folder / "time_to_threshold.csv").exists():
        tt = pd.read_csv(folder / "time_to_threshold.csv")
        if not tt.empty:
            tt["threshold"] = tt["threshold"].map(lambda v: f"{v:g}")
            for c in ("seeds", "seeds_reached", "samples_median"):
                tt[c] = tt[c].map(lambda v: "n/a" if pd.isna(v) else f"{int(v):,}")
            tt["wall_s_median"] = tt["wall_s_median"].map(
                lambda v: "n/a" if pd.isna(v) else f"{v:.1f}"
            )
            lines += [
                "",
                "Time to a threshold: the first evaluation of a run whose single-action ratio on "
                "the **validation** states (per_state: the test states it optimises) reached it "
                "(wall clock including evaluations, 2 CPU "
                "cores shared by 2 workers; median over the seeds that reached it within the "
                "run's budget):",
                "",
                *_table(
                    tt,
                    list(tt.columns),
                    {"seeds_reached": "seeds reached", "wall_s_median": "wall s (median)",
                     "samples_median": "samples (median)"},
                ),
            ]  # fmt: skip
    known = {"summary.csv", "time_to_threshold.csv", "f3.csv", "cost.csv"}
    for path in sorted(
        p for p in folder.glob("*.csv") if p.name not in known and not p.name.startswith("metrics")
    ):
        df = pd.read_csv(path)
        lines += ["", f"`{path.name}`:", "", *_table(df, list(df.columns), {})]
    for path in sorted(folder.glob("*.json")):
        if path.name != PROVENANCE:
            lines += ["", f"`{path.name}`:", "", *_json_table(json.loads(path.read_text()))]
    for extra in sorted(folder.glob("*.md")):
        lines += ["", extra.read_text().strip()]
    return lines


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, dict):
        return [kv for k, v in obj.items() for kv in _flatten(v, f"{prefix}{k}.")]
    return [(prefix.rstrip("."), obj)]


def _json_table(obj: Any) -> list[str]:
    """A benchmark's JSON as a two-column table (numbers to 4 significant digits)."""
    lines = ["| key | value |", "|---|---|"]
    for k, v in _flatten(obj):
        if isinstance(v, float):
            v = f"{v:.4g}"
        elif isinstance(v, list):
            v = ", ".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in v)
        lines.append(f"| {k} | {v} |")
    return lines


def render(data_dir: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the results page from every folder of ``data_dir`` that has a provenance."""
    data = Path(data_dir)
    lines = [
        "# Results",
        "",
        "Generated by `dyncontract results` from the files under `docs/data/` (each folder "
        "holds the data, the command that produced it and the git revision); do not edit by "
        "hand. All numbers are on **test** market states that no tuning, selection or early "
        "stopping has seen, unless a section says otherwise.",
    ]
    for folder in sorted(p for p in data.iterdir() if (p / PROVENANCE).exists()):
        lines += ["", *_section(folder)]
    return write_text_atomic(out, "\n".join(lines) + "\n")
