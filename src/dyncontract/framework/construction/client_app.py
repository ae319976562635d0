"""The ES side: a Flower ClientApp.

An ES answers three messages:

* ``query.hello`` — which ES it is (its partition id);
* ``train`` — on its first order it generates its private demonstrations (kept in its
  node state, never sent); then it loads the CS's agent, trains the ordered modules for the
  ordered number of behaviour-cloning steps and replies with those modules' arrays and
  scalar metrics (steps done, CPU seconds, loss);
* ``query.deploy`` — it serves the integrated agent on missions of its own and replies with
  the measured latency (per step and per episode).
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import numpy as np
import torch
from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from dyncontract.framework.construction.agent import MODULES, AgentSpec
from dyncontract.framework.construction.data import (
    Episodes,
    attribute_mix,
    generate_demos,
)
from dyncontract.framework.construction.task import (
    get_weights,
    measure_latency,
    new_agent,
    set_weights,
    train_bc,
)
from dyncontract.framework.construction.wire import (
    ARRAYS,
    METRICS,
    ORDER,
    DataSpec,
    DeployOrder,
    TrainOrder,
    from_array_record,
    from_config_record,
    to_array_record,
)

app = ClientApp()

#: Keys of the ES's own state (Flower keeps ``context.state`` on the ES between messages).
_DEMOS, _OPTIM, _ACCOUNT = "demos", "optimizer", "account"


class InjectedFault(RuntimeError):
    """Raised by an ES told to fail (tests and experiments)."""


def partition_id(context: Context) -> int:
    return int(context.node_config["partition-id"])


def es_rng(seed: int, es: int, *stream: int) -> np.random.Generator:
    """ES ``es``'s own random stream (``stream`` names a use: data, a round's batches)."""
    return np.random.default_rng(np.random.SeedSequence([seed, es, *stream]))


def private_data(context: Context, spec: DataSpec) -> tuple[Episodes, float, bool]:
    """The ES's demonstrations (generated on first use, then kept in its node state), the
    CPU seconds generating them took (0 after the first call or when read from the ES's
    ``data_cache`` folder) and whether they came from that folder."""
    if _DEMOS in context.state:
        return Episodes.from_arrays(from_array_record(context.state[_DEMOS])), 0.0, False
    es = partition_id(context)
    path = None
    if spec.data_cache:
        key = hashlib.sha256(f"{spec.model_dump_json(exclude={'data_cache'})}/{es}".encode())
        path = Path(spec.data_cache) / f"es{es}-{key.hexdigest()[:20]}.npz"
        if path.exists():
            with np.load(path) as z:
                eps = Episodes.from_arrays({k: z[k] for k in z.files})
            context.state[_DEMOS] = to_array_record(eps.arrays())
            return eps, 0.0, True
    rng = es_rng(spec.seed, es, 0)
    conc = spec.concentration if spec.concentration > 0 else None
    mix = attribute_mix(rng, spec.attribute, conc)
    eps, stats = generate_demos(spec.levels, spec.demos_per_es, rng, spec.attribute, mix)
    context.state[_DEMOS] = to_array_record(eps.arrays())
    if path is not None:
        from dyncontract._io import atomic_write

        atomic_write(path, lambda fh: np.savez(fh, **eps.arrays()), mode="wb")
    return eps, stats.cpu_s, False


def _save_optimizer(context: Context, opt: torch.optim.Optimizer) -> None:
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    context.state[_OPTIM] = ConfigRecord({"state": buf.getvalue()})


def _load_optimizer(context: Context, opt: torch.optim.Optimizer) -> None:
    if _OPTIM in context.state:
        blob = context.state[_OPTIM]["state"]
        opt.load_state_dict(torch.load(io.BytesIO(blob), weights_only=True))


@app.query("hello")
def hello(msg: Message, context: Context) -> Message:
    return Message(RecordDict({METRICS: MetricRecord({"es": partition_id(context)})}), reply_to=msg)


@app.train()
def train(msg: Message, context: Context) -> Message:
    torch.set_num_threads(1)
    order = from_config_record(TrainOrder, msg.content[ORDER])
    es = partition_id(context)
    eps, data_cpu_s, cached = private_data(context, order.data())
    agent = new_agent(AgentSpec(**order.sizes().model_dump()), 0)
    set_weights(agent, from_array_record(msg.content[ARRAYS]))
    params = [p for name in order.modules for p in getattr(agent, name).parameters()]
    opt = torch.optim.Adam(params, lr=order.learning_rate)
    if order.keep_optimizer_state:
        _load_optimizer(context, opt)
    if order.fault == "raise":
        raise InjectedFault(f"ES {es} failed in round {order.round} of period {order.period}")
    if order.fault == "exit":
        os._exit(17)  # the ES's process dies mid-round
    rng = es_rng(order.seed, es, order.period, order.round)
    t0 = time.perf_counter()
    res = train_bc(
        agent, opt, eps, order.steps, order.batch_episodes, rng, params, order.max_grad_norm
    )
    wall = time.perf_counter() - t0
    if order.keep_optimizer_state:
        _save_optimizer(context, opt)
    metrics = MetricRecord(
        {
            "es": es,
            "steps": res.steps,
            "loss": res.loss,
            "cpu_train_s": res.cpu_s,
            "wall_train_s": wall,
            "cpu_data_s": data_cpu_s,
            "data_cached": int(cached),
            "demos": eps.n_episodes,
            "frames": eps.n_frames,
        }
    )
    arrays = to_array_record(get_weights(agent, order.modules))
    return Message(RecordDict({ARRAYS: arrays, METRICS: metrics}), reply_to=msg)


@app.query("deploy")
def deploy(msg: Message, context: Context) -> Message:
    torch.set_num_threads(1)
    order = from_config_record(DeployOrder, msg.content[ORDER])
    agent = new_agent(AgentSpec(**order.sizes().model_dump()), 0)
    set_weights(agent, from_array_record(msg.content[ARRAYS]))
    rng = es_rng(order.seed, partition_id(context), 9)
    lat = measure_latency(agent, order.levels, order.episodes, rng, order.temperature)
    return Message(RecordDict({METRICS: MetricRecord(lat)}), reply_to=msg)


__all__ = ["app", "MODULES"]
