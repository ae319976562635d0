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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dyncontract._io import write_json_atomic, write_text_atomic
from dyncontract.experiments import construction_report
from dyncontract.experiments.aggregate import HEADINGS, SUMMARY_COLUMNS, SUMMARY_NOTE, _fmt

PROVENANCE = "provenance.json"
#: the tables of an experiment that ``export`` copies (those it has)
EXPORTED = (
    "summary.csv",
    "time_to_threshold.csv",
    "f3.csv",
    "cost.csv",
    "curves.csv",
    "estimate_solve.csv",
)


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
        "command": relative_paths(command),
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
    for name in EXPORTED:
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


#: the repository's root (commands run there are written relative to it)
REPO_ROOT = Path(__file__).resolve().parents[3]


def relative_paths(text: str, root: Path = REPO_ROOT) -> str:
    """``text`` with every absolute path inside ``root`` written relative to it (a command
    recorded as typed may name files by absolute path; the page must not)."""
    r = str(root).rstrip("/")
    return text.replace(r + "/", "").replace(r, ".")


def _header(folder: Path) -> list[str]:
    """The section's title, command(s), revision and note (provenance.json)."""
    prov = json.loads((folder / PROVENANCE).read_text())
    lines = [f"## `{folder.name}`", ""]
    lines += [
        f"Command: `{relative_paths(prov['command'])}` — git `{prov['git_revision'][:12]}`, "
        f"{prov['date_utc']} UTC, {prov['machine']}."
    ]
    if prov.get("note"):
        lines += ["", relative_paths(prov["note"])]
    return lines


def _section(folder: Path) -> list[str]:
    """The default section: header, summary table, time to thresholds, every other table."""
    lines = _header(folder)
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
    return [relative_paths(line) for line in lines]


#: budgets of the model-free curve table (the last curve point at or below each; a last
#: column gives each method's last curve point, whatever its count)
CURVE_TABLE_BUDGETS = (1_000, 10_000, 100_000)
#: where the model-free benchmark's figure goes (relative to the results page)
MENU_FREE_FIGURE = "figures/menu_free_curves.png"


def _ci(v: float, ci: float) -> str:
    return f"{v:.4f}" if not np.isfinite(ci) else f"{v:.4f} ± {ci:.4f}"


def _menu_free_section(folder: Path) -> list[str]:
    """The model-free benchmark: final table (samples, wall time, 95 % CI over seeds), the
    curve at a few budgets, estimate_solve's estimates at every budget, and the figure."""
    lines = _header(folder)
    summary = pd.read_csv(folder / "summary.csv")
    rows = []
    for r in summary.to_dict("records"):
        rows.append(
            {
                "method": r["method"],
                "seeds": int(r["seeds"]),
                "samples": _fmt(r["samples"], "samples"),
                "wall s": _fmt(r["wall_s"], "wall_s"),
                "ratio (single) ± 95 % CI": _ci(r["ratio_single"], r["ratio_single_ci95"]),
                "p05": _fmt(r["ratio_single_p05"], "p05"),
                "median": _fmt(r["ratio_single_median"], "median"),
                "beats static_best": _fmt(r["beats_static_best"], "beats"),
            }
        )
    table = pd.DataFrame(rows)
    lines += ["", "Final scores (test states, single action; samples and wall time: means over "
              "the seeds):", "", *_table(table, list(table.columns), {})]  # fmt: skip
    if (folder / "curves.csv").exists():
        cur = pd.read_csv(folder / "curves.csv")
        out = []

        def point(upto: pd.DataFrame) -> str:
            if upto.empty:
                return "n/a"
            last = upto.sort_values("samples").iloc[-1]
            return f"{_ci(last['ratio'], last['ratio_ci95'])} ({int(last['samples']):,})"

        for m, g in cur.groupby("method", sort=False):
            row: dict[str, Any] = {"method": m}
            for b in CURVE_TABLE_BUDGETS:
                row[f"≤ {b:,} samples"] = point(g[g["samples"] <= b])
            row["last point"] = point(g)
            out.append(row)
        ct = pd.DataFrame(out)
        lines += [
            "",
            "The curve (`curves.csv`, every point; figure below): ratio on the test states "
            "at the last evaluation with at most that many samples, and at the curve's last "
            "point (its sample count in brackets; mean ± 95 % CI over the seeds; the final "
            "scores above come from each run's final evaluation):",
            "",
            *_table(ct, list(ct.columns), {}),
        ]
    if (folder / "estimate_solve.csv").exists():
        est = pd.read_csv(folder / "estimate_solve.csv")
        show = pd.DataFrame(
            {
                "samples": est["samples"].map(lambda v: f"{int(v):,}"),
                "ratio ± 95 % CI": [_ci(a, b) for a, b in zip(est["ratio"], est["ratio_ci95"],
                                                              strict=True)],
                "plug-in ratio (margin 0)": est["test_ratio_plugin"].map(lambda v: f"{v:.4f}"),
                "margins chosen (per seed)": est["margins"].map(
                    lambda v: " ".join(f"{float(x):.1%}" for x in str(v).split())
                ),
                "largest relative error of θ̂_k (mean; worst seed)": [
                    f"{a:.2%}; {b:.2%}" for a, b in zip(
                        est["theta_rel_err_max"], est["theta_rel_err_max_worst"], strict=True)
                ],
                "mean relative error": est["theta_rel_err_mean"].map(lambda v: f"{v:.2%}"),
                "wall s": est["wall_s"].map(lambda v: f"{v:.0f}"),
            }
        )  # fmt: skip
        lines += [
            "",
            "`estimate_solve` at every budget of the curve (`estimate_solve.csv`): the ratio "
            "with the margin it chose by posting, the plain plug-in's, and the error of its "
            "estimate of θ (wall s: cumulative, fits and exact solves included):",
            "",
            *_table(show, list(show.columns), {}),
        ]
    lines += ["", f"![model-free sample-efficiency curves]({MENU_FREE_FIGURE})"]
    for extra in sorted(folder.glob("*.md")):
        if extra.name != "README.md":
            lines += ["", extra.read_text().strip()]
    return [relative_paths(line) for line in lines]


#: data folders with a section of their own (one function per section); others: _section
SECTIONS: dict[str, Callable[[Path], list[str]]] = {
    "menu_free": _menu_free_section,
    "construct": construction_report.results_section,
}


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
        lines += ["", *SECTIONS.get(folder.name, _section)(folder)]
    return write_text_atomic(out, "\n".join(lines) + "\n")


def menu_free_references(data: Path) -> dict[str, float]:
    """The model-aware horizontal lines of the model-free figure, from committed data:
    the exact optimum (1), ``static_best`` on the same test states (menu_free's summary) and
    ``direct_smooth`` (docs/data/menu: it differentiates through the known model)."""
    refs = {"exact": 1.0}
    for folder, method, key in (
        ("menu_free", "static_best", "static_best"),
        ("menu", "direct_smooth", "direct_smooth"),
    ):
        path = data / folder / "summary.csv"
        if path.exists():
            df = pd.read_csv(path).set_index("method")
            if method in df.index:
                refs[key] = float(df.loc[method, "ratio_single"])
    return refs


def figures_from_data(data_dir: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """The figures drawn from committed data (``dyncontract results`` redraws them): the
    model-free benchmark's sample-efficiency curves, and the construct experiment's F6–F8."""
    from dyncontract.experiments.figures import menu_free_curves

    data = Path(data_dir)
    written: list[Path] = []
    curves_csv = data / "menu_free" / "curves.csv"
    if curves_csv.exists():
        stem = Path(out_dir) / Path(MENU_FREE_FIGURE).stem
        written += menu_free_curves(pd.read_csv(curves_csv), menu_free_references(data), stem)
    if (data / "construct").is_dir():
        written += construction_report.figures_from_data(data / "construct", Path(out_dir))
    return written
