"""Run the whole platform as local processes (model server, orchestrator, workers).

Used by `agentstream demo` and by the integration tests: every process is ours, started
in its own session and stopped by PID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from agentstream.broker import free_port
from agentstream.processes import Spawned, is_alive, signal_pid, spawn, stop_pid
from topics.admin import ensure_topics, platform_topics
from topics.connection import Target
from topics.names import Topics

CLI = [sys.executable, "-m", "agentstream.cli"]
MARKER = "agentstream.cli"


@dataclass
class StackConfig:
    """What to run: which tools with how many worker processes, and against what."""

    bootstrap: Target
    """The cluster: a Connection (secured clusters) or its bootstrap servers."""
    prefix: str
    log_dir: Path
    tools: dict[str, int]
    modules: list[str] = field(default_factory=list)
    use_local_model: bool = True
    scenario_dirs: list[Path] = field(default_factory=list)
    model_workers: int = 1
    worker_concurrency: int = 8
    env: dict[str, str] = field(default_factory=dict)
    role_env: dict[str, dict[str, str]] = field(default_factory=dict)
    """Extra variables by role (`orchestrator`, `model-worker`, `worker-<tool>`,
    `model-server`): on a secured cluster, each role's own user."""
    metrics: bool = True
    model_server_args: list[str] = field(default_factory=list)
    orchestrators: int = 1
    """Orchestrator processes in one Faust group (they share the conversation partitions)."""
    replication_factor: int | None = None
    """Replicas of every topic (3 on a cluster); None: the settings' default, from the env."""
    min_insync_replicas: int | None = None

    def replication(self) -> dict[str, int]:
        """The replication this config asks for, as `ensure_topics` keyword arguments."""
        wanted = {
            "replication_factor": self.replication_factor,
            "min_insync_replicas": self.min_insync_replicas,
        }
        return {key: value for key, value in wanted.items() if value is not None}


def orchestrator_name(index: int) -> str:
    """`orchestrator` for the first (the name callers know), `orchestrator-N` after it."""
    return "orchestrator" if index == 0 else f"orchestrator-{index + 1}"


@dataclass
class Stack:
    """The running processes of one stack, with their metrics ports."""

    config: StackConfig
    processes: dict[str, Spawned] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    log_starts: dict[str, int] = field(default_factory=dict)
    """Where each process's current run begins in its (appended) log file."""
    metrics_ports: dict[str, int] = field(default_factory=dict)
    model_url: str | None = None
    ports: set[int] = field(default_factory=set)
    """Every port handed to a process: none is handed out twice."""

    def _port(self) -> int:
        port = free_port(taken=self.ports)
        self.ports.add(port)
        return port

    def env(self, name: str | None = None) -> dict[str, str]:
        """The environment of process `name` (the shared one without a name)."""
        role = self.roles.get(name or "", "")
        env = {
            **os.environ,
            **self.config.env,
            "KAFKA_BOOTSTRAP_SERVERS": str(self.config.bootstrap),
            "AGENTSTREAM_TOPIC_PREFIX": self.config.prefix,
            "PYTHONUNBUFFERED": "1",
        }
        for key, value in self.config.replication().items():
            env[f"AGENTSTREAM_{key.upper()}"] = str(value)
        if self.model_url:
            env["AGENTSTREAM_ANTHROPIC_BASE_URL"] = self.model_url
        if self.config.use_local_model:
            env.pop("ANTHROPIC_API_KEY", None)
            env.pop("AGENTSTREAM_ANTHROPIC_API_KEY", None)
            env["AGENTSTREAM_MODEL_BACKEND"] = "local"
        return {**env, **self.config.role_env.get(role, {})}

    def _spawn(self, name: str, args: list[str], role: str) -> None:
        self.roles[name] = role
        if self.config.metrics and name != "model-server":
            port = self._port()
            self.metrics_ports[name] = port
            args = [*args, "--metrics-port", str(port)]
        self._launch(name, [*CLI, *args], self.config.log_dir / f"{name}.log")

    def _launch(self, name: str, argv: list[str], log: Path) -> None:
        """Start process `name`, noting where its run begins in its (appended) log."""
        self.log_starts[name] = log.stat().st_size if log.exists() else 0
        self.processes[name] = spawn(argv, log, env=self.env(name))

    def start(self) -> None:
        """Create topics, then start every process (returns without waiting for them)."""
        cfg = self.config
        cfg.log_dir.mkdir(parents=True, exist_ok=True)
        specs = platform_topics(Topics(cfg.prefix), list(cfg.tools))
        asyncio.run(ensure_topics(cfg.bootstrap, specs, **cfg.replication()))
        if cfg.use_local_model:
            port = self._port()
            self.model_url = f"http://127.0.0.1:{port}"
            dirs = [a for d in cfg.scenario_dirs for a in ("--scenario-dir", str(d))]
            self._spawn(
                "model-server",
                ["model-server", "--port", str(port), *dirs, *cfg.model_server_args],
                "model-server",
            )
        for i in range(cfg.orchestrators):
            self._spawn(orchestrator_name(i), ["orchestrator"], "orchestrator")
        for i in range(cfg.model_workers):
            self._spawn(f"model-worker-{i + 1}", ["model-worker"], "model-worker")
        modules = [a for m in cfg.modules for a in ("--module", m)]
        for tool, count in cfg.tools.items():
            for i in range(count):
                self._spawn(
                    f"worker-{tool}-{i + 1}",
                    [
                        "worker",
                        "--tool",
                        tool,
                        "--concurrency",
                        str(cfg.worker_concurrency),
                        *modules,
                    ],
                    f"worker-{tool}",
                )

    def restart(self, name: str) -> None:
        """Stop one process by PID and start it again with the same arguments."""
        old = self.processes.pop(name)
        stop_pid(old.pid, expect_in_cmdline=MARKER)
        self._launch(name, list(old.argv), old.log_path)

    def kill(
        self, name: str, sig: signal.Signals = signal.SIGKILL, timeout_s: float = 30.0
    ) -> bool:
        """Signal one process (SIGKILL: a crash) and wait until it exited; False if it still runs.

        The process stays listed, so `start_again` can bring it back with the same arguments.
        """
        return signal_pid(self.processes[name].pid, MARKER, sig, timeout_s)

    def start_again(self, name: str) -> None:
        """Start a process that exited (or was killed) with its old arguments and log file."""
        old = self.processes[name]
        if is_alive(old.pid):
            raise RuntimeError(f"{name} (pid {old.pid}) is still running")
        self._launch(name, list(old.argv), old.log_path)

    def dead(self) -> list[str]:
        """Names of processes that exited (they should all run until stopped)."""
        return [name for name, p in self.processes.items() if not is_alive(p.pid)]

    def stop(self) -> None:
        """Stop every process by PID: workers first, the model server last."""
        for name in reversed(list(self.processes)):
            stop_pid(self.processes[name].pid, expect_in_cmdline=MARKER)
        self.processes.clear()

    def offering(self, tools: list[str]) -> bool:
        """Whether every running orchestrator has offered each tool since it (re)started."""
        from agents.registry_view import AVAILABLE

        for name, role in self.roles.items():
            if role != "orchestrator" or name not in self.processes:
                continue
            with self.processes[name].log_path.open("rb") as log:
                log.seek(self.log_starts.get(name, 0))
                text = log.read().decode(errors="replace")
            if any(AVAILABLE % tool not in text for tool in tools):
                return False
        return True

    async def wait_for_tools(self, tools: list[str], timeout_s: float = 60.0) -> None:
        """Block until each tool is on its registry topic and every orchestrator offers it
        (orchestrators find a new tool's topic within a second, so a request sent the
        moment a spec is published could still find the tool unknown)."""
        cfg = self.config
        started = time.monotonic()
        await wait_for_tools(cfg.bootstrap, cfg.prefix, tools, timeout_s)
        while not self.offering(tools):
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(
                    f"orchestrators do not offer all of {tools} after {timeout_s:g}s"
                )
            await asyncio.sleep(0.05)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.config.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


async def wait_for_tools(
    bootstrap: Target, prefix: str, tools: list[str], timeout_s: float = 60.0
) -> None:
    """Block until every tool has published its spec on the registry topic."""
    from agents.registry_view import RegistryView

    view = RegistryView(bootstrap, Topics(prefix))
    task = asyncio.create_task(view.run())
    deadline = time.monotonic() + timeout_s
    try:
        while not (view.ready.is_set() and set(tools) <= set(view.tools)):
            if time.monotonic() > deadline or task.done():
                missing = sorted(set(tools) - set(view.tools))
                raise TimeoutError(f"tools not registered within {timeout_s:g}s: {missing}")
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
