"""Run an experiment: independent tasks on a process pool or on Ray, resumable at any moment.

Each task runs one registry method (:mod:`dyncontract.experiments.methods`) and writes into
its own run directory ``OUT/<experiment>/<group>/<seed>/`` (file names: ``rl.rundir``):

    config.yaml   the resolved config of the run
    metrics.csv   the method's metrics rows (step, wall_s, samples, updates, ratio_single, ...)
    eval.json     the final evaluation (the last row, plus the method's extras)
    DONE          written last (atomically): the run is complete

Every file is written atomically (temp file + rename). A sweep killed at any moment (even
``kill -9``) and started again with the same ``--out`` skips the runs that have ``DONE``,
resumes resumable methods (the diffusion learners) from their last checkpoint, and restarts
the other unfinished runs from scratch. Summary and figures are rebuilt from the run
directories at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dyncontract._io import write_json_atomic
from dyncontract.config import DyncontractConfig, build_config, dump_config, merge
from dyncontract.experiments.composition import contract_setting, final_metrics
from dyncontract.experiments.methods import METHODS, MethodContext
from dyncontract.experiments.spec import ExperimentSpec, Task, expand
from dyncontract.rl.rundir import RunDir

DONE = "DONE"


def cache_root(out: str | os.PathLike, experiment: str) -> Path:
    """The experiment's cache (``DYNCONTRACT_CACHE`` inside its workers)."""
    return Path(out) / experiment / ".cache"


def heldout_cache(out: str | os.PathLike, experiment: str) -> Path:
    return cache_root(out, experiment) / "heldout"


def _clean_partial(d: Path, keep_checkpoint: bool) -> None:
    """Remove temp files of interrupted writes; without a checkpoint, start the run afresh."""
    if not d.exists():
        return
    for p in d.glob(".*.tmp"):
        p.unlink(missing_ok=True)
    if not keep_checkpoint:
        for p in d.iterdir():
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()


def task_config(task: Task) -> DyncontractConfig:
    """The resolved config of a task: the spec's overrides, then the method's own."""
    return build_config({}, merge(task.config, METHODS[task.method].config))


def run_task(task: Task, out: str, threads: int = 1, options: dict[str, Any] | None = None) -> dict:
    """Execute one task (in a worker process). Returns a small status dict."""
    import torch

    torch.set_num_threads(threads)
    # every held-out set this run builds (trainer, evaluation) lands in the experiment's cache
    os.environ["DYNCONTRACT_CACHE"] = str(cache_root(out, task.experiment))
    d = task.run_dir(out)
    if (d / DONE).exists():
        return {"task": task.label, "status": "skipped"}
    t0 = time.perf_counter()
    method = METHODS[task.method]
    run = RunDir(d)
    _clean_partial(d, keep_checkpoint=method.resumable and run.checkpoint.exists())
    d.mkdir(parents=True, exist_ok=True)
    cfg = task_config(task)
    if not run.config.exists():
        run.write_config(dump_config(cfg))
    ctx = MethodContext(cfg, d, heldout_cache(out, task.experiment), dict(options or {}))
    ctx.test_curve = method.test_curve
    rows = method.run(ctx, task.seed, task.budget)
    run.write_metrics(rows)
    if not ctx.final:
        raise RuntimeError(f"method {task.method} did not score its final policy on test states")
    last = rows[-1]
    final = final_metrics(
        {"samples": last.get("samples", last["step"]), "updates": last.get("updates", 0)}
        | ctx.final
    )
    final["steps"] = int(last["step"])
    final["split"] = "test"
    final.update(ctx.extras)
    # a run resumed from a checkpoint: this process saw only the rest of it; the learner's
    # rows carry the training wall across processes (its checkpoint keeps the elapsed time)
    final["train_wall_s"] = max(time.perf_counter() - t0, float(last.get("wall_s", 0.0)))
    final.update({"method": task.method, "seed": task.seed, "group": task.group})
    final.update(dict(task.meta))
    write_json_atomic(d / "eval.json", final)
    write_json_atomic(d / DONE, {"finished": time.time(), "wall_s": final["train_wall_s"]})
    return {"task": task.label, "status": "done", "wall_s": final["train_wall_s"]}


def _safe_run(task: Task, out: str, threads: int, options: dict[str, Any] | None) -> dict:
    try:
        return run_task(task, out, threads, options)
    except Exception as exc:  # reported, and the sweep goes on with the other tasks
        return {
            "task": task.label,
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }


def pending(tasks: Iterable[Task], out: str | os.PathLike) -> list[Task]:
    return [t for t in tasks if not (t.run_dir(out) / DONE).exists()]


def execute(
    spec: ExperimentSpec,
    out: str | os.PathLike,
    backend: str = "local",
    workers: int = 2,
    address: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Run every unfinished task of ``spec``; returns their status dicts."""
    out = str(out)
    tasks = expand(spec)
    todo = pending(tasks, out)
    log(
        f"{spec.name}: {len(tasks)} runs, {len(tasks) - len(todo)} already finished, "
        f"{len(todo)} to run on {backend} with {workers} worker(s)"
    )
    # the held-out optima (validation and test states) are solved once, before the workers
    if tasks:
        for split in ("validation", "test"):
            contract_setting(
                spec.base_config(), cache_dir=heldout_cache(out, spec.name), progress=progress,
                split=split,
            )  # fmt: skip
    if not todo:
        return []
    bar = tqdm(total=len(todo), desc=f"{spec.name} runs", disable=not progress, unit="run")
    results: list[dict] = []

    def done(r: dict) -> None:
        results.append(r)
        bar.update(1)
        bar.set_postfix_str(r["task"])
        if r["status"] == "failed":
            log(f"run {r['task']} failed: {r['error']}")

    try:
        if backend == "local":
            if workers <= 1:
                for t in todo:
                    done(_safe_run(t, out, 1, spec.options(t.method)))
            else:
                with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                    futs = [pool.submit(_safe_run, t, out, 1, spec.options(t.method)) for t in todo]
                    for f in as_completed(futs):
                        done(f.result())
        elif backend == "ray":
            _execute_ray(todo, out, workers, address, spec, done)
        else:
            raise ValueError(f"--backend: must be local or ray, got {backend!r}")
    finally:
        bar.close()
    return results


def _execute_ray(
    todo: list[Task],
    out: str,
    workers: int,
    address: str | None,
    spec: ExperimentSpec,
    done: Callable[[dict], None],
) -> None:
    try:
        import ray
    except ImportError:
        raise ValueError(
            "--backend ray: Ray is not installed (pip install 'dyncontract[ray]')"
        ) from None
    started_here = not ray.is_initialized()
    if started_here:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        kw: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
        if address:
            ray.init(address=address, **kw)
        else:
            src = str(Path(__file__).resolve().parents[2])
            ray.init(num_cpus=workers, runtime_env={"env_vars": {"PYTHONPATH": src}}, **kw)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_safe_run)
        refs = [remote.remote(t, out, 1, spec.options(t.method)) for t in todo]
        while refs:
            ready, refs = ray.wait(refs, num_returns=1)
            done(ray.get(ready[0]))
    finally:
        if started_here:
            ray.shutdown()


def finished_runs(out: str | os.PathLike, experiment: str) -> list[Path]:
    root = Path(out) / experiment
    return sorted(p.parent for p in root.glob(f"*/*/{DONE}"))


def load_eval(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "eval.json").read_text())
