"""The CS side: a Flower ServerApp that runs a construction :class:`~.plan.Job`.

For each period the CS sends every ES with work in a round a ``train`` message (the global
agent + its order), aggregates the replies module by module (:class:`~.strategy.ModuleFedAvg`,
in ES order), and after the period's last round evaluates the integrated agent on held-out
missions. It starts by evaluating the reference agents (untrained, random, bot) and ends by
deploying the agent to an ES, which measures its latency at the edge.

``app`` is the ServerApp for Flower's deployment runtime (``flwr run``): it reads a job file
and writes the outcome next to it. :func:`make_server_app` builds the same main loop around
an in-memory job for the simulation and in-process runtimes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Context, Message, RecordDict
from flwr.serverapp import Grid, ServerApp

from dyncontract.framework.construction.agent import AgentSpec
from dyncontract.framework.construction.data import eval_seeds
from dyncontract.framework.construction.plan import Job
from dyncontract.framework.construction.strategy import ModuleFedAvg, Update
from dyncontract.framework.construction.task import (
    evaluate_policy,
    get_weights,
    new_agent,
    set_weights,
)
from dyncontract.framework.construction.wire import (
    ARRAYS,
    DEPLOY,
    HELLO,
    METRICS,
    ORDER,
    TRAIN,
    DeployOrder,
    TrainOrder,
    from_array_record,
    to_array_record,
    to_config_record,
)

#: Called as progress(event, info) at every step of the CS's loop (the CLI's progress bar).
Progress = Callable[[str, dict[str, Any]], None]


@dataclass
class Outcome:
    """What the CS observed (everything here crossed the network as arrays or scalars)."""

    references: dict[str, dict[str, float]] = field(default_factory=dict)
    #: rounds[p]: one dict per round: ``round``, ``wall_s``, ``replies`` (ES metrics),
    #: ``failures`` (ES, reason)
    rounds: list[list[dict[str, Any]]] = field(default_factory=list)
    #: evaluations[p]: the integrated agent after period p + 1
    evaluations: list[dict[str, float]] = field(default_factory=list)
    #: weights[p]: the global agent after period p + 1
    weights: list[OrderedDict[str, np.ndarray]] = field(default_factory=list)
    deployment: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: every reply the CS received, summarised (records -> keys -> shapes or values)
    received: list[dict[str, Any]] = field(default_factory=list)


def _summarise(msg: Message) -> dict[str, Any]:
    """A reply's content as record kind -> key -> shape (arrays) or value (scalars)."""
    out: dict[str, Any] = {"type": msg.metadata.message_type, "error": msg.has_error()}
    if msg.has_error():
        return out
    records: dict[str, Any] = {}
    for name, rec in msg.content.items():
        kind = type(rec).__name__
        if kind == "ArrayRecord":
            body = {k: tuple(rec[k].shape) for k in rec}
        else:
            body = {k: rec[k] for k in rec}
        records[name] = {"kind": kind, "items": body}
    out["records"] = records
    return out


class _CS:
    """The CS's loop over one job (kept small: one method per phase)."""

    def __init__(self, grid: Grid, job: Job, progress: Progress | None) -> None:
        self.grid, self.job, self.cfg = grid, job, job.config
        self.progress = progress or (lambda event, info: None)
        self.out = Outcome()
        self.spec = AgentSpec(**self.cfg.agent.model_dump())
        self.seeds = eval_seeds(self.cfg.eval_missions)

    def exchange(self, messages: list[Message], timeout: float | None) -> list[Message]:
        replies = list(self.grid.send_and_receive(messages, timeout=timeout))
        self.out.received.extend(_summarise(m) for m in replies)
        return replies

    def connect(self) -> dict[int, int]:
        """Wait for every ES, then map Flower node ids to ES ids (a ``hello`` query)."""
        t0 = time.perf_counter()
        deadline = t0 + self.job.connect_timeout_s
        while len(list(self.grid.get_node_ids())) < self.job.n_es:
            if time.perf_counter() > deadline:
                have = len(list(self.grid.get_node_ids()))
                raise RuntimeError(f"only {have} of {self.job.n_es} ESs connected")
            time.sleep(0.05)
        nodes = sorted(self.grid.get_node_ids())
        msgs = [Message(RecordDict(), node, HELLO) for node in nodes]
        es_of: dict[int, int] = {}
        for rep in self.exchange(msgs, self.job.connect_timeout_s):
            if not rep.has_error():
                es_of[rep.metadata.src_node_id] = int(rep.content[METRICS]["es"])
        node_of = {es: node for node, es in es_of.items()}
        missing = [e for e in range(self.job.n_es) if e not in node_of]
        if missing:
            raise RuntimeError(f"ESs {missing} did not answer")
        self.out.timings["connect_s"] = time.perf_counter() - t0
        return node_of

    def evaluate(self, policy: Any) -> dict[str, float]:
        res = evaluate_policy(
            policy,
            self.cfg.levels,
            self.seeds,
            rng_seed=self.cfg.seed,
            temperature=self.cfg.temperature,
        )
        return dict(res.to_dict())

    def references(self, agent: Any) -> None:
        t0 = time.perf_counter()
        for name, policy in (("untrained", agent), ("random", "random"), ("bot", "bot")):
            self.out.references[name] = self.evaluate(policy)
            self.progress("reference", {"name": name})
        self.out.timings["reference_eval_s"] = time.perf_counter() - t0

    def order(self, period: int, rnd: int, es: int, steps: int) -> TrainOrder:
        c = self.cfg
        return TrainOrder(
            period=period,
            round=rnd,
            steps=steps,
            modules=self.job.modules[es],
            batch_episodes=c.batch_episodes,
            learning_rate=c.learning_rate,
            max_grad_norm=c.max_grad_norm,
            keep_optimizer_state=c.keep_optimizer_state,
            fault=self.job.fault(es, period, rnd),  # type: ignore[arg-type]
            levels=c.levels,
            demos_per_es=c.demos_per_es,
            attribute=c.attribute,
            concentration=c.concentration or 0.0,
            seed=c.seed,
            data_cache=str(Path(c.data_cache).resolve()) if c.data_cache else "",
            **c.agent.model_dump(),
        )

    def train_round(
        self, weights: OrderedDict[str, np.ndarray], period: int, rnd: int, node_of: dict
    ) -> tuple[list[Update], dict[str, Any]]:
        t0 = time.perf_counter()
        plan = self.job.steps[period - 1][rnd - 1]
        arrays = to_array_record(weights)
        messages, sent = [], {}
        for es, steps in enumerate(plan):
            if steps <= 0:
                continue
            content = RecordDict(
                {ARRAYS: arrays, ORDER: to_config_record(self.order(period, rnd, es, steps))}
            )
            msg = Message(content, node_of[es], TRAIN, group_id=f"p{period}r{rnd}")
            messages.append(msg)
            sent[node_of[es]] = es
        replies = self.exchange(messages, self.job.round_timeout_s)
        updates, metrics, failures = [], [], []
        answered = set()
        for rep in replies:
            es = sent.get(rep.metadata.src_node_id)
            if es is None:
                continue
            answered.add(es)
            if rep.has_error():
                failures.append({"es": es, "reason": rep.error.reason[:300]})
                continue
            m = {k: float(v) for k, v in rep.content[METRICS].items()}
            metrics.append(m)
            updates.append(
                Update(es, int(m["steps"]), dict(from_array_record(rep.content[ARRAYS])))
            )
        for es in sorted(set(sent.values()) - answered):
            failures.append({"es": es, "reason": "no reply before the round's timeout"})
        info = {
            "period": period,
            "round": rnd,
            "wall_s": time.perf_counter() - t0,
            "replies": sorted(metrics, key=lambda m: m["es"]),
            "failures": sorted(failures, key=lambda f: f["es"]),
        }
        return updates, info

    def deploy(self, weights: OrderedDict[str, np.ndarray], node: int) -> None:
        c = self.cfg
        order = DeployOrder(
            episodes=c.latency_episodes,
            levels=c.levels,
            seed=c.seed,
            temperature=c.temperature,
            **c.agent.model_dump(),
        )
        content = RecordDict({ARRAYS: to_array_record(weights), ORDER: to_config_record(order)})
        replies = self.exchange([Message(content, node, DEPLOY)], self.job.round_timeout_s)
        if replies and not replies[0].has_error():
            self.out.deployment = {k: float(v) for k, v in replies[0].content[METRICS].items()}

    def run(self) -> Outcome:
        t_start = time.perf_counter()
        node_of = self.connect()
        agent = new_agent(self.spec, self.cfg.seed)
        if self.cfg.references:
            self.references(agent)
        weights = get_weights(agent)
        strategy = ModuleFedAvg(self.cfg.server_learning_rate, self.cfg.server_momentum)
        for period in (1, 2):
            period_rounds = []
            for rnd in range(1, len(self.job.steps[period - 1]) + 1):
                updates, info = self.train_round(weights, period, rnd, node_of)
                weights, _ = strategy.aggregate(weights, updates)
                period_rounds.append(info)
                self.progress("round", info)
            self.out.rounds.append(period_rounds)
            t0 = time.perf_counter()
            set_weights(agent, weights)
            ev = self.evaluate(agent)
            ev["eval_wall_s"] = time.perf_counter() - t0
            self.out.evaluations.append(ev)
            self.out.weights.append(OrderedDict((k, v.copy()) for k, v in weights.items()))
            self.progress("evaluation", {"period": period, **ev})
        t0 = time.perf_counter()
        self.deploy(weights, node_of[0])
        self.out.timings["deploy_s"] = time.perf_counter() - t0
        self.out.timings["server_wall_s"] = time.perf_counter() - t_start
        return self.out


def run_job(grid: Grid, job: Job, progress: Progress | None = None) -> Outcome:
    """Run ``job`` on ``grid`` (any Flower runtime) and return what the CS observed."""
    return _CS(grid, job, progress).run()


def make_server_app(job: Job, sink: list[Outcome], progress: Progress | None = None) -> ServerApp:
    """A ServerApp that runs ``job`` and appends its outcome to ``sink`` (simulation and
    in-process runtimes, where the ServerApp runs in this process)."""
    server = ServerApp()

    @server.main()
    def _main(grid: Grid, context: Context) -> None:
        sink.append(run_job(grid, job, progress))

    return server


# ----- Flower's deployment runtime (`flwr run`) -----------------------------------------------

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Run the construction of the bundle named in the run config (``bundle``, a file written
    by ``dyncontract construct --export``) and write its run folder to ``out``."""
    import yaml

    from dyncontract.framework.construction.construct import Bundle, run_bundle
    from dyncontract.framework.construction.report import write_run

    out = Path(str(context.run_config["out"]))
    if out.exists():  # the CLI's own check; a run folder is never overwritten
        raise FileExistsError(f"out: {out} already exists")
    bundle = Bundle.model_validate_json(Path(str(context.run_config["bundle"])).read_text())
    res = run_bundle(bundle, grid=grid)
    config = yaml.safe_dump(
        bundle.model_dump(mode="json", exclude={"contract", "calibration"}), sort_keys=False
    )
    write_run(out, res, bundle.contract, config)
