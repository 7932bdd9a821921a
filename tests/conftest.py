"""Session fixtures: a real Kafka broker and unique names per test."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from agentstream import broker


@dataclass(frozen=True)
class KafkaUnderTest:
    """Where the tests' broker listens and what it is."""

    bootstrap_servers: str
    description: str


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def kafka(request: pytest.FixtureRequest) -> Iterator[KafkaUnderTest]:
    """KAFKA_BOOTSTRAP_SERVERS if set; else testcontainers' Kafka; else the project's broker."""
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        found = KafkaUnderTest(existing, f"existing cluster at {existing}")
        request.config.stash[KAFKA_KEY] = found.description
        yield found
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            found = KafkaUnderTest(container.get_bootstrap_server(), "testcontainers Kafka")
            request.config.stash[KAFKA_KEY] = found.description
            yield found
        return
    home = Path(tempfile.mkdtemp(prefix="agentstream-test-broker-"))
    info = broker.start(home)
    description = f"Apache Kafka {info.version} (KRaft, local broker pid {info.pid})"
    request.config.stash[KAFKA_KEY] = description
    try:
        yield KafkaUnderTest(info.bootstrap_servers, description)
    finally:
        broker.stop(home)
        shutil.rmtree(home, ignore_errors=True)


KAFKA_KEY = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def _no_stop_began_in_the_test_process() -> Iterator[None]:
    """A stop deadline armed inside the test process would end the whole run a few
    seconds later (`monitoring.stop_deadline`): fail the test that armed it instead."""
    yield
    from monitoring import stop_deadline

    assert not stop_deadline.armed(), "a process stop began inside the test process"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print which Kafka the integration tests ran against."""
    description = terminalreporter.config.stash.get(KAFKA_KEY, None)
    if description:
        terminalreporter.write_line(f"integration tests ran against {description}")


@pytest.fixture
def unique() -> str:
    """A fresh name fragment, so each test gets its own topics, groups and app ids."""
    return f"t{uuid.uuid4().hex[:10]}"


# Property-based tests: a few hundred examples in `make test`, 10,000 in the nightly-size
# run (`HYPOTHESIS_PROFILE=nightly make test`).
settings.register_profile("default", max_examples=300, deadline=None)
settings.register_profile(
    "nightly", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
