"""The supervisor of a local app: `python -m services.apps.local_supervisor APP_DIR`.

It outlives the app or CLI that started it (its own session) and owns everything the app
runs: N replicas of the bundled tritonserver, each on its own loopback ports, and the
balancer in front of them on the app's ports. Every child dies with it (PDEATHSIG), so
killing the supervisor leaves no server behind. Once a tick it:

* reaps replicas that died (their reason from Triton's own lines) and replaces them,
* probes each replica's readiness (`probe.path` on its port) and gives traffic only to
  the ready ones,
* measures the scaling signal (CPU or RAM per replica against its allocation, or the
  custom metric read from each replica) and asks `Recommender` how many replicas to run,
* applies what the platform asked in `control.json` (scaling, image),
* writes the app's state: QUEUED → INITIALIZING → SCALING → RUNNING ⇄ SCALING, and on
  SIGTERM STOPPING → STOPPED; FAILED with Triton's reason when no replica can start.

A local replica is allocated `cpu` CPUs (1 by default) and RAM_PER_CPU per CPU: what the
CPU and RAM percentages are measured against.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from services import bounded_get
from services.apps.autoscale import Recommender, aggregate, metric_value
from services.apps.grpc_balancer import GrpcBalancer
from services.apps.http_balancer import BalancerThread, HttpBalancer
from services.apps.local_store import LocalRecord, read_control, read_record, write_record
from services.apps.preset import server_words
from services.apps.protocol import (
    MAX_REPLICAS,
    TRITON_METRICS_PORT,
    App,
    AppState,
    AppStateChange,
    AutomaticScaling,
    FixedScaling,
    Replica,
)
from services.apps.replica_pool import Backend, ReplicaTraffic
from services.errors import UserError
from services.logs.capture import LogFile, Pump
from services.supervised.environment import container_environment
from services.supervised.files import now
from services.supervised.token import local_token
from services.supervised.volumes import sync_volumes_in
from services.triton.frameworks import SERVED_REPOSITORY, served_repository
from services.triton.guard import guard_command, guard_environment, open_listeners
from services.triton.runtime import Ports, TritonServer, control_arguments, die_with_parent, prepare_runtime, signal_group, terminate_group

TICK_S = 0.5
# A custom metric read, from connect to the last byte, and its size: a tick (and with it the
# scale and stop requests it applies) never waits longer than that for a metric server.
METRIC_DEADLINE_S = 1.0
METRIC_MAX_BYTES = 1024 * 1024
RAM_PER_CPU = 2 * 1024**3
FAILURES_BEFORE_FAILED = 3  # replicas in a row that died before they were ever ready
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def group_usage(pgid: int) -> tuple[float, int]:
    """CPU seconds and resident bytes of a process group (a server and its python stubs)."""
    seconds, resident = 0.0, 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # fields after the name: state ppid pgrp ...
            seconds += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            resident += int(fields[21]) * PAGE
    return seconds, resident


@dataclass
class ReplicaProcess:
    name: str
    server: TritonServer
    process: subprocess.Popen[bytes]
    ready: bool = False
    ever_ready: bool = False
    cpu_percent: float | None = None
    ram_percent: float | None = None
    _last: tuple[float, float] | None = None  # (wall, cpu seconds)
    pump: Pump | None = None

    @property
    def ports(self) -> Ports:
        return self.server.ports

    def measure(self, cpus: int, restart: bool = False) -> None:
        """CPU over the last tick, RAM now. `restart` sets aside a CPU reading that would span the
        replica's loading (as Kubernetes' autoscaler does for a pod just ready): the models' load
        is not traffic, and counting it scaled an idle app up the moment it started."""
        seconds, resident = group_usage(self.process.pid)
        wall = time.monotonic()
        if restart:
            self._last, self.cpu_percent = None, None
        if self._last is not None and wall > self._last[0]:
            self.cpu_percent = 100.0 * (seconds - self._last[1]) / (wall - self._last[0]) / cpus
        self._last = (wall, seconds)
        self.ram_percent = 100.0 * resident / (RAM_PER_CPU * cpus)

    def as_replica(self, traffic: Sequence[ReplicaTraffic]) -> Replica:
        """The replica as the app's status shows it, with what it answered through the endpoint
        (HTTP and gRPC together) over the last minute."""
        state = "RUNNING" if self.ready else "STARTING"
        requests = sum(item.requests for item in traffic)
        latency = sum(item.requests * (item.mean_latency_ms or 0.0) for item in traffic) / requests if requests else None
        failed = sum(item.failed for item in traffic)
        url = f"http://127.0.0.1:{self.ports.http}"
        return Replica(self.name, state, self.ready, "", self.cpu_percent, self.ram_percent, url, requests, failed, None if latency is None else round(latency, 2))


class AppSupervisor:
    def __init__(self, app_dir: Path) -> None:
        self.dir = app_dir
        record = read_record(app_dir)
        self.app: App = record.app
        self.endpoint = record.endpoint
        self.generation = record.generation
        self.workspace = app_dir / "workspace"
        self.stopping = threading.Event()
        self.log_file = LogFile(app_dir / "log.txt")
        self.replicas: list[ReplicaProcess] = []
        self.failures = 0
        self.last_reason = ""
        self.serial = 0
        self.recommender = Recommender()
        self.metric_readers = ThreadPoolExecutor(MAX_REPLICAS, thread_name_prefix="metric")
        self.metric_lock = threading.Lock()
        self.last_metric_problem: str | None = None
        self.token = None if self.app.spec.unsecure_http else local_token()
        self.served_repository: Path | None = None
        self.http = HttpBalancer(self.endpoint.http_port)
        self.grpc: GrpcBalancer | None = None  # bound in run(), where a taken port fails the app
        self.balancers = BalancerThread([self.http])

    # -- record and log ------------------------------------------------------------------------

    def save(self) -> None:
        write_record(self.dir, LocalRecord(self.app, self.endpoint, os.getpid(), self.generation))

    def move(self, state: AppState, **changes: object) -> None:
        history = self.app.history + (AppStateChange(state, now()),) if state is not self.app.state else self.app.history
        self.app = replace(self.app, state=state, history=history, **changes)  # type: ignore[arg-type]
        self.save()

    def log(self, line: str, source: str) -> None:
        self.log_file.note(line, source)

    # -- replicas ------------------------------------------------------------------------------

    @property
    def cpus(self) -> int:
        return self.app.spec.cpu or 1

    def start_replica(self) -> None:
        self.serial += 1
        name = f"{self.app.short_id}-{self.serial}"
        words = server_words(self.app.spec.command, self.workspace)
        repository = next((w.split("=", 1)[1] for w in words if w.startswith("--model-repository=")), None)
        if repository is None:
            raise UserError("tritonserver needs --model-repository=/workspace/...")
        log_path = self.dir / "replicas" / f"{name}.log"
        runtime = prepare_runtime()
        environment = {**runtime.environment(container_environment(os.environ)), "HOME": str(self.workspace)}
        listeners = open_listeners() if self.token else []  # a private replica sits behind its guard (services.triton.guard)
        ports = Ports(*(listener.getsockname()[1] for listener in listeners)) if listeners else None
        server = TritonServer(runtime, self.served(Path(repository)), log_path, ports=ports, extra_args=control_arguments(words))
        command = server.command()
        if self.token is not None:
            command, environment = guard_command(listeners, command), guard_environment(environment, self.token.reveal())
        server.log_path.parent.mkdir(mode=0o700, exist_ok=True)
        reading, writing = os.pipe()
        try:
            process = subprocess.Popen(
                command, stdout=writing, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment,
                start_new_session=True, preexec_fn=die_with_parent, pass_fds=[listener.fileno() for listener in listeners],
            )  # fmt: skip
        except BaseException:
            os.close(reading)
            raise
        finally:
            os.close(writing)
            for listener in listeners:
                listener.close()
        replica = ReplicaProcess(name, server, process)
        replica.pump = Pump(reading, lambda lines: self.deliver(replica, lines), name=f"pump-{name}")
        self.replicas.append(replica)
        self.log(f"replica {name} starting (HTTP {server.ports.http}, gRPC {server.ports.grpc}, metrics {server.ports.metrics})", "app")

    def served(self, repository: Path) -> Path:
        """The repository the replicas load: made once from the synced one (ONNX models through
        generated python-backend models), shared by every replica; a model the bundled server
        cannot serve is refused here, before any replica starts."""
        if self.served_repository is None:
            self.served_repository = served_repository(repository, self.dir / SERVED_REPOSITORY, lambda line: self.log(line, "app"))
        return self.served_repository

    def deliver(self, replica: ReplicaProcess, lines: list[bytes]) -> None:
        """A replica's lines: into its own log (its reason when it dies) and the app's merged one."""
        with replica.server.log_path.open("ab") as raw:
            raw.write(b"".join(line + b"\n" for line in lines))
        self.log_file.write(lines, replica.name)

    def stop_replica(self, replica: ReplicaProcess) -> None:
        self.replicas.remove(replica)
        self.route()
        terminate_group(replica.process, grace=10)
        self.log(f"replica {replica.name} stopped", "app")

    def reap(self) -> None:
        """Replicas that died: logged with Triton's reason, counted when never ready."""
        for replica in [r for r in self.replicas if r.process.poll() is not None]:
            self.replicas.remove(replica)
            signal_group(replica.process.pid, signal.SIGKILL)  # its python stubs, if the server died without them
            if replica.pump is not None:
                replica.pump.join(timeout=1)  # its last lines
                if replica.pump.error:
                    self.log(f"replica {replica.name}: {replica.pump.error}", "app")
            reason = replica.server.log_tail()
            self.last_reason = f"replica {replica.name} exited with status {replica.process.returncode}: {reason}"
            self.log(self.last_reason, "app")
            self.failures = 0 if replica.ever_ready else self.failures + 1

    def probe(self, replica: ReplicaProcess) -> bool:
        spec = self.app.spec
        probe = spec.probe_or_default
        ports = {spec.default_http_port: replica.ports.http, TRITON_METRICS_PORT: replica.ports.metrics}
        port = ports.get(probe.port or spec.default_http_port, replica.ports.http)
        request = urllib.request.Request(f"http://127.0.0.1:{port}{probe.path}")
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token.reveal()}")
        try:
            with urllib.request.urlopen(request, timeout=1) as answer:
                return bool(200 <= answer.status < 300)
        except (urllib.error.URLError, OSError):
            return False

    def route(self) -> None:
        ready = [r for r in self.replicas if r.ready]
        self.http.set_backends([Backend(r.name, "127.0.0.1", r.ports.http) for r in ready])
        if self.grpc is not None:
            self.grpc.set_backends([Backend(r.name, "127.0.0.1", r.ports.grpc) for r in ready])

    # -- scaling -------------------------------------------------------------------------------

    def custom_value(self, replica: ReplicaProcess, scaling: AutomaticScaling) -> float | None:
        metric = scaling.custom_metric
        assert metric is not None
        ports = {self.app.spec.default_http_port: replica.ports.http, TRITON_METRICS_PORT: replica.ports.metrics}
        if self.app.spec.grpc_port:
            ports[self.app.spec.grpc_port] = replica.ports.grpc

        def local(match: re.Match[str]) -> str:
            port = int(match["port"]) if match["port"] else 80
            return f"127.0.0.1:{ports.get(port, port)}"

        url = re.sub(r"<SELF>(?::(?P<port>\d+))?", local, metric.api_url)
        try:
            body = bounded_get.get(url, METRIC_DEADLINE_S, METRIC_MAX_BYTES)
            value = metric_value(body.decode("utf-8", errors="replace"), metric.format, metric.value_location)
        except bounded_get.BoundedRead as abandoned:
            self.metric_problem(f"custom metric {url}: {abandoned}: the reading is abandoned")
            return None
        except UserError as error:
            self.metric_problem(f"custom metric {url}: {error.message}")
            return None
        self.metric_problem(None)
        return value

    def metric_problem(self, problem: str | None) -> None:
        """Said in the app's log when it starts or changes, not on every tick."""
        with self.metric_lock:
            if problem is not None and problem != self.last_metric_problem:
                self.log(problem, "app")
            self.last_metric_problem = problem

    def signal_now(self, scaling: AutomaticScaling) -> float | None:
        ready = [r for r in self.replicas if r.ready]
        if not ready:
            return None
        if scaling.custom_metric is not None:  # read side by side: one slow replica costs one deadline, not one each
            readings = list(self.metric_readers.map(lambda replica: self.custom_value(replica, scaling), ready))
            values = [v for v in readings if v is not None]
            return aggregate(values, scaling.custom_metric.aggregation) if values else None
        readings = [r.ram_percent if (scaling.resource_type or "").upper() == "RAM" else r.cpu_percent for r in ready]
        values = [v for v in readings if v is not None]
        return sum(values) / len(values) if values else None

    def desired(self) -> tuple[int, float | None]:
        scaling = self.app.spec.scaling
        if isinstance(scaling, FixedScaling):
            return scaling.replicas, None
        observed = self.signal_now(scaling)
        current = self.app.desired_replicas or max(scaling.replicas_min, 1)
        return self.recommender.desired(time.monotonic(), current, observed, scaling), observed

    def apply_control(self) -> None:
        control = read_control(self.dir)
        if control.generation <= self.generation:
            return
        self.generation = control.generation
        spec = self.app.spec
        if control.scaling is not None and control.scaling != spec.scaling:
            spec = replace(spec, scaling=control.scaling)
            self.recommender = Recommender()
            self.log(f"scaling set to {control.scaling}", "app")
        if control.image and control.image != spec.image:
            spec = replace(spec, image=control.image)
            self.log(f"image set to {control.image} (local replicas run the bundled tritonserver)", "app")
        self.app = replace(self.app, spec=spec, desired_replicas=None)
        self.save()

    # -- the loop ------------------------------------------------------------------------------

    def tick(self) -> None:
        self.apply_control()
        self.reap()
        for replica in self.replicas:
            ready = self.probe(replica)
            became_ready, replica.ready = ready and not replica.ready, ready
            replica.ever_ready = replica.ever_ready or ready
            replica.measure(self.cpus, restart=became_ready)
        self.route()
        desired, observed = self.desired()
        if self.failures >= FAILURES_BEFORE_FAILED and not any(r.ready for r in self.replicas):
            raise UserError(self.last_reason)
        while len(self.replicas) < desired:
            self.start_replica()
        while len(self.replicas) > desired:  # the newest (least warm) go first; ready or not
            self.stop_replica(self.replicas[-1])
        available = sum(r.ready for r in self.replicas)
        state = AppState.RUNNING if available == desired and available > 0 else AppState.SCALING
        info = self.last_reason if self.last_reason and available < desired else None
        traffic = [self.http.pool.traffic(), self.grpc.pool.traffic() if self.grpc is not None else {}]
        replicas = tuple(r.as_replica([side[r.name] for side in traffic if r.name in side]) for r in self.replicas)
        changed = (state, available, desired, replicas, info) != (self.app.state, self.app.available_replicas, self.app.desired_replicas, self.app.replicas, self.app.info_message)
        if changed or observed != self.app.signal:
            code = f"APP_{state.value}"
            self.move(state, available_replicas=available, desired_replicas=desired, replicas=replicas, signal=observed, info_code=code, info_message=info)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        if self.app.state.is_down:  # stopped before this process got to run it
            return 0
        try:
            self.move(AppState.INITIALIZING, info_code="APP_INITIALIZING", info_message=None)
            self.workspace.mkdir(mode=0o700, exist_ok=True)
            sync_volumes_in(self.workspace, self.app.spec.volumes, lambda line: self.log(line, "sync"))
            try:
                self.balancers.start()
                if self.endpoint.grpc_port:
                    self.grpc = GrpcBalancer(self.endpoint.grpc_port, token=self.token)
                    self.grpc.start()
            except OSError as error:
                raise UserError(f"the app's port {self.endpoint.http_port} is taken ({error.strerror}): delete the app and run it again") from None
            self.move(AppState.SCALING, info_code="APP_SCALING")
            while not self.stopping.is_set():
                self.tick()
                self.stopping.wait(TICK_S)
            self.shutdown(AppState.STOPPED, "APP_STOPPED", None)
        except Exception as error:  # the app fails, the supervisor reports it
            message = error.message if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
            self.log(message, "app")
            self.shutdown(AppState.FAILED, "APP_FAILED", message)
        return 0

    def shutdown(self, state: AppState, code: str, message: str | None) -> None:
        self.move(AppState.STOPPING, info_code="APP_STOPPING", info_message=message)
        for replica in list(self.replicas):
            self.stop_replica(replica)
        self.balancers.stop()
        if self.grpc is not None:
            self.grpc.stop()
        self.move(state, available_replicas=0, replicas=(), signal=None, info_code=code, info_message=message)


def main() -> int:
    return AppSupervisor(Path(sys.argv[1])).run()


if __name__ == "__main__":
    sys.exit(main())

