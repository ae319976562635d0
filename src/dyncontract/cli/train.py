"""`dyncontract train` and `dyncontract evaluate` (EDMSAC / DMSAC)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from dyncontract._io import write_json_atomic
from dyncontract.cli._common import (
    ConfigOpt,
    InputError,
    JsonOpt,
    SetOpt,
    check_output_path,
    fmt_table,
    get_config,
    handles_input_errors,
)

_ALGOS = ("edmsac", "dmsac", "gsac")


def _device(device: str) -> str:
    from dyncontract.rl.trainer import resolve_device

    return str(resolve_device(device))


@handles_input_errors
def train(
    out: Annotated[Path, typer.Option("--out", help="Run directory (created).")],
    algo: Annotated[
        str | None,
        typer.Option(
            "--algo",
            help="edmsac (with pruning), dmsac (dense) or gsac (Gaussian actor, same learner).",
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option("--env", help="Gymnasium env id (default dyncontract/ContractDesign-v0)."),
    ] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    steps: Annotated[
        int | None, typer.Option("--steps", help="Budget in environment samples.")
    ] = None,
    max_minutes: Annotated[
        float | None, typer.Option("--max-minutes", help="Budget in wall-clock minutes.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (default 0).")] = None,
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda.")] = "auto",
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the interrupted run in --out.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    tensorboard: Annotated[
        Path | None,
        typer.Option(
            "--tensorboard",
            help="Also write the metrics as TensorBoard events here (logging.tensorboard).",
            metavar="DIR",
        ),
    ] = None,
) -> None:
    """Train EDMSAC (DMSAC, GSAC); write metrics.csv, config.yaml and checkpoints to --out."""
    from dyncontract.experiments.composition import default_budget, env_id, load_run, train_run
    from dyncontract.rl.rundir import RunDir

    if algo is not None and algo not in _ALGOS:
        raise InputError(f"--algo: must be edmsac, dmsac or gsac, got {algo!r}")
    if steps is not None and steps < 1:
        raise InputError(f"--steps: must be >= 1, got {steps}")
    if max_minutes is not None and (not math.isfinite(max_minutes) or max_minutes <= 0):
        raise InputError(f"--max-minutes: must be a finite number > 0, got {max_minutes}")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} exists and is not a directory")
    if tensorboard is not None and tensorboard.exists() and not tensorboard.is_dir():
        raise InputError(f"--tensorboard: {tensorboard} exists and is not a directory")
    dev = _device(device)
    run = RunDir(out)
    if resume:
        if config is not None or set_:
            raise InputError("--resume: the run's config is fixed; drop --config/--set")
        if not run.checkpoint.is_file():
            why = (
                "it was stopped before its first checkpoint; start it afresh (delete it or use "
                "another --out)"
                if run.holds_run() or run.config.exists()
                else "not a training run"
            )
            raise InputError(f"--resume: {out} has no {run.checkpoint.name} to resume from ({why})")
        run.remove_temp_files()  # of a write that was interrupted
        cfg, meta = load_run(out)
        if not isinstance(meta.get("seed"), int) or isinstance(meta.get("seed"), bool):
            raise InputError(f"--resume: {run.run_json} has no integer seed (damaged run)")
        for name, given, stored in (
            ("--algo", algo, cfg.rl.algo),
            ("--env", env, meta.get("env_id")),
            ("--seed", seed, meta.get("seed")),
        ):
            if given is not None and given != stored:
                raise InputError(f"{name}: the run used {stored!r}, got {given!r} on --resume")
        seed_ = int(meta.get("seed", 0))
        if steps is None and max_minutes is None:  # a new budget replaces the stored one
            steps, max_minutes = meta.get("steps"), meta.get("max_minutes")
    else:
        if run.checkpoint.exists():
            raise InputError(
                f"--out: {out} already holds a run (use --resume, or another directory)"
            )
        if run.holds_run():
            raise InputError(
                f"--out: {out} holds a run stopped before its first checkpoint (nothing to "
                "resume): delete it or use another directory"
            )
        options: dict[str, Any] = {}
        if algo is not None:
            options["algo"] = algo
        if env is not None:
            options["env_id"] = env
        extra: dict[str, Any] = {"rl": options} if options else {}
        if tensorboard is not None:
            extra["logging"] = {"tensorboard": str(tensorboard)}
        cfg = get_config(config, set_, extra or None)
        seed_ = 0 if seed is None else seed
    budget = default_budget(cfg, steps, max_minutes)
    tb = tensorboard if tensorboard is not None else cfg.logging.tensorboard
    # what this command creates, removed again if a new run fails before its first checkpoint
    made = [(Path(d), _missing_dirs(Path(d)), _listing(Path(d))) for d in (out, tb) if d]
    try:
        rows = train_run(
            cfg,
            out,
            budget,
            resume=resume,
            seed=seed_,
            device=dev,
            quiet=quiet,
            tensorboard=None if tb is None else str(tb),
        )
    except BaseException:
        if not resume and not run.checkpoint.exists():
            for d, created, before in made:
                _discard_new(d, created, before)
        raise
    last = rows[-1] if rows else {}
    typer.echo(f"run: {out}  ({cfg.rl.algo}, env {env_id(cfg)}, device {dev})")
    typer.echo(_summary(last))


def _missing_dirs(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, deepest first. A new run that fails
    (or is interrupted) before its first checkpoint leaves nothing behind; one with a
    checkpoint is kept (``--resume`` continues it)."""
    out = []
    p = path.absolute()
    while not p.exists() and p != p.parent:
        out.append(p)
        p = p.parent
    return out


def _listing(d: Path) -> set[Path]:
    return set(d.iterdir()) if d.is_dir() else set()


def _discard_new(d: Path, created: list[Path], before: set[Path]) -> None:
    """Remove what appeared in ``d`` since ``before`` and the folders in ``created``
    (deepest first, stopping at the first that is not empty)."""
    import shutil

    if d.is_dir():
        for p in d.iterdir():
            if p in before:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
    for c in created:
        try:
            c.rmdir()
        except OSError:
            break


def _summary(row: dict[str, Any]) -> str:
    keys = [
        "step",
        "wall_s",
        "ratio_single",
        "ratio_best_of_n",
        "feasible_single",
        "return_mean",
        "eval_reward",
        "prune_ratio",
        "alpha",
    ]
    cols, vals = [], []
    for k in keys:
        v = row.get(k)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        cols.append(k)
        vals.append(v)
    return fmt_table(cols, [vals]) if cols else "(no metrics)"


@handles_input_errors
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `train`.")],
    states: Annotated[
        int, typer.Option("--states", help="Held-out market states (contract env).")
    ] = 256,
    episodes: Annotated[
        int | None, typer.Option("--episodes", help="Episodes (other gymnasium envs).")
    ] = None,
    json_out: JsonOpt = None,
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda.")] = "cpu",
    no_timing: Annotated[
        bool, typer.Option("--no-timing", help="Skip the dense / compact timing.")
    ] = False,
    eval_action: Annotated[
        str | None,
        typer.Option(
            "--eval-action",
            help="Also score this deployment rule: deterministic | mean | sample | best_feasible.",
        ),
    ] = None,
    split: Annotated[
        str, typer.Option("--split", help="Held-out states: test (default) | validation.")
    ] = "test",
) -> None:
    """Score a trained policy on test states: ratio (single action; best of 16), feasibility,
    compaction (or, on other gymnasium envs, the mean return)."""
    from dyncontract.experiments.composition import evaluate_run
    from dyncontract.rl.evaluation import as_json_safe

    check_output_path(json_out)
    if states < 1:
        raise InputError(f"--states: must be >= 1, got {states}")
    if episodes is not None and episodes < 1:
        raise InputError(f"--episodes: must be >= 1, got {episodes}")
    if not run_dir.is_dir():
        raise InputError(f"run_dir: {run_dir} is not a directory")
    modes = ("deterministic", "mean", "sample", "best_feasible")
    if eval_action is not None and eval_action not in modes:
        raise InputError(f"--eval-action: must be one of {', '.join(modes)}, got {eval_action!r}")
    if split not in ("test", "validation"):
        raise InputError(f"--split: must be test or validation, got {split!r}")
    res = evaluate_run(
        run_dir,
        states=states,
        episodes=episodes,
        device=_device(device),
        timing=not no_timing,
        eval_action=eval_action,
        split=split,
    )
    res = as_json_safe(res)
    rows = []
    for k, v in res.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                rows.append([f"{k}.{kk}", vv if not isinstance(vv, list) else str(vv)])
        elif k not in ("run_dir",):
            rows.append([k, v])
    typer.echo(fmt_table(["metric", "value"], rows, floatfmt="{:.6g}"))
    if json_out is not None:
        write_json_atomic(json_out, res)
        typer.echo(f"wrote {json_out}")
