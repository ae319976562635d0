"""Where the ServerApp and ClientApps run.

* ``simulation`` — Flower's simulation runtime: ``flwr.simulation.run_simulation`` with the
  Ray backend, one CPU per ES actor, Ray and Flower logs quiet, telemetry off. The
  ServerApp runs in a thread of this process, so its outcome comes back through a Python
  list. ``run_simulation`` logs a deprecation notice in Flower 1.42 (``flwr run`` is the
  supported entry point, but it needs an app package, a SuperLink process and files for
  results); it is still the only way to run the simulation runtime from inside a program,
  so we call it and keep its notice out of the user's terminal (docs/construction.md).
* ``inprocess`` — :class:`InProcessGrid`, a ~50-line implementation of Flower's public
  ``Grid`` interface that calls the same ClientApp object directly, one ES after the other,
  in this process (no Ray). For fast tests; same messages, same results.

Flower's deployment runtime (SuperLink + SuperNodes, several machines) runs the same apps
through ``flwr run``; see docs/construction.md.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable
from typing import Any

from dyncontract.framework.construction.plan import Job
from dyncontract.framework.construction.server_app import Outcome, Progress, make_server_app

#: Environment that keeps Flower and Ray quiet and offline (set before they are imported).
QUIET_ENV = {
    "FLWR_TELEMETRY_ENABLED": "0",
    "FLWR_DISABLE_UPDATE_CHECK": "1",
    "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0",
    "RAY_DEDUP_LOGS": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
}


def quiet_flower() -> None:
    """Telemetry off, update check off, Flower's logger at ERROR."""
    for k, v in QUIET_ENV.items():
        os.environ.setdefault(k, v)
    logging.getLogger("flwr").setLevel(logging.ERROR)


class InProcessGrid:
    """Flower's ``Grid`` interface over ClientApps called in this process.

    Each ES is a node with its own :class:`flwr.app.Context` (``node_config`` carries its
    ``partition-id``, as in the simulation runtime), kept between messages. A ClientApp that
    raises produces an error reply, as the other runtimes do.
    """

    def __init__(self, client_app: Any, n_nodes: int) -> None:
        from flwr.app import Context, RecordDict

        self.client_app = client_app
        self._run_id = 1
        self.nodes = [1000 + e for e in range(n_nodes)]  # node ids (not partition ids)
        self.contexts = {
            node: Context(
                run_id=self._run_id,
                node_id=node,
                node_config={"partition-id": e, "num-partitions": n_nodes},
                state=RecordDict(),
                run_config={},
            )
            for e, node in enumerate(self.nodes)
        }
        self._replies: dict[str, Any] = {}

    # the Grid interface -------------------------------------------------------------------
    def set_run(self, run: Any) -> None:  # pragma: no cover - not used
        self._run = run

    @property
    def run(self) -> Any:  # pragma: no cover - not used
        return getattr(self, "_run", None)

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):
        from flwr.app import Message

        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self.nodes)

    def push_messages(self, messages: Iterable[Any]) -> Iterable[str]:
        from flwr.app import Error, Message

        ids = []
        for msg in messages:
            mid = uuid.uuid4().hex
            msg.metadata.__dict__["_message_id"] = mid  # as Flower's own in-memory grid does
            try:
                reply = self.client_app(msg, self.contexts[msg.metadata.dst_node_id])
            except Exception as exc:  # noqa: BLE001 - an ES failing is an outcome
                reply = Message(Error(code=0, reason=f"{type(exc).__name__}: {exc}"), reply_to=msg)
            reply.metadata.__dict__["_src_node_id"] = msg.metadata.dst_node_id
            self._replies[mid] = reply
            ids.append(mid)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Any]:
        return [self._replies.pop(m) for m in message_ids if m in self._replies]

    def send_and_receive(self, messages: Iterable[Any], *, timeout: float | None = None):
        return self.pull_messages(self.push_messages(messages))


def run_inprocess(job: Job, progress: Progress | None = None) -> Outcome:
    """Run ``job`` with :class:`InProcessGrid` (the same ServerApp and ClientApp objects)."""
    from flwr.app import Context, RecordDict
    from flwr.supercore.task_identity import TaskIdentity

    from dyncontract.framework.construction.client_app import app as client_app

    quiet_flower()
    # the task identity (what run_simulation sets for its own legacy entry point): Flower's
    # Message constructor reads the run id from it
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 1
    sink: list[Outcome] = []
    server = make_server_app(job, sink, progress)
    grid = InProcessGrid(client_app, job.n_es)
    server(grid, Context(run_id=1, node_id=1, node_config={}, state=RecordDict(), run_config={}))
    return sink[0]


class _DropDeprecation(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "run_simulation" not in record.getMessage()


def run_simulation_runtime(
    job: Job, num_cpus: int | None = None, progress: Progress | None = None
) -> Outcome:
    """Run ``job`` on Flower's simulation runtime (Ray backend, one CPU per ES actor)."""
    quiet_flower()
    from flwr.simulation import run_simulation

    from dyncontract.framework.construction.client_app import app as client_app

    logging.getLogger("flwr").addFilter(_DropDeprecation())
    cpus = int(num_cpus or os.cpu_count() or 1)
    backend_config = {
        "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
        "init_args": {
            "num_cpus": cpus,
            "num_gpus": 0,
            "logging_level": logging.ERROR,
            "log_to_driver": False,
            "include_dashboard": False,
        },
    }
    sink: list[Outcome] = []
    server = make_server_app(job, sink, progress)
    t0 = time.perf_counter()
    run_simulation(
        server_app=server,
        client_app=client_app,
        num_supernodes=job.n_es,
        backend_config=backend_config,  # type: ignore[arg-type]
    )
    if not sink:
        raise RuntimeError("the construction did not finish (see Flower's log above)")
    sink[0].timings["runtime_wall_s"] = time.perf_counter() - t0
    return sink[0]
