"""The orchestrator's faust-streaming app, configured on purpose rather than by defaults."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import faust
from faust.sensors import Sensor
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import ServiceT

from agents.faust_fixes import install
from config.settings import Settings
from monitoring import stop_deadline
from topics.admin import durability_config
from topics.connection import Connection
from topics.names import CONVERSATION_PARTITIONS, MAX_MESSAGE_BYTES
from topics.partitioning import partitioner

SESSION_TIMEOUT_S = 6.0
"""Kafka's lowest allowed group session (group.min.session.timeout.ms): a killed instance
holds its partitions this long before the group moves them."""


def app_id(settings: Settings) -> str:
    """The Faust app id: also its consumer group and the prefix of its changelog topic."""
    return settings.topic_prefix + settings.orchestrator_app_id


def faust_datadir(name: str) -> Path:
    """Where faust keeps its (here empty) data directory: not in the working directory."""
    path = Path(tempfile.gettempdir()) / "agentstream-faust" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


class OrchestratorApp(faust.App):
    """faust's App whose stop, however it goes, ends the process within the grace."""

    stop_grace_s: float = 15.0

    def on_init_dependencies(self) -> Iterable[ServiceT]:
        """faust's, with a sensor that does nothing in place of its in-memory `Monitor`.

        The Monitor keeps statistics for faust's web views, which are off here (metrics are
        Prometheus'), yet it ran on every event, message and send: 2.4% of the
        orchestrator's CPU in a py-spy profile of the throughput phase. One sensor stays
        because faust logs a warning at every rebalance that finds no sensor state.
        """
        self.sensors.add(Sensor(loop=self.loop, beacon=self.beacon))
        if self.producer_only:
            return self.boot_strategy.producer_only()
        if self.client_only:
            return self.boot_strategy.client_only()
        return self.boot_strategy.server()

    async def on_stop(self) -> None:
        # First thing of the app's stop: what follows (stream drain, commit, producer
        # flush) waits on the broker.
        stop_deadline.arm(self.stop_grace_s)
        await super().on_stop()


class IdempotentProducer(faust_aiokafka.Producer):
    """faust's producer with Kafka's idempotence on, as every other producer here has it.

    faust turns it on only inside exactly-once transactions. Without it, a batch retried
    because its partition's leader died after writing it is written twice: chaos runs that
    killed a leader answered 1-9 conversations twice, both copies with one CreateTime.
    """

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "enable_idempotence": True}


def build_app(settings: Settings) -> faust.App:
    """The orchestrator app, configured on purpose rather than by Faust's defaults."""
    brokers = ";".join(f"kafka://{b}" for b in settings.kafka_bootstrap_servers.split(","))
    credentials = broker_credentials(settings.kafka)
    app = OrchestratorApp(
        app_id(settings),
        broker=brokers,
        store="memory://",  # recovered from the changelog topic on start
        datadir=faust_datadir(app_id(settings)),
        topic_partitions=CONVERSATION_PARTITIONS,
        table_standby_replicas=0,  # the deadline scan relies on holding active partitions only
        topic_replication_factor=settings.replication_factor,  # changelog and faust's own
        web_enabled=False,  # metrics are served by prometheus-client instead
        broker_session_timeout=SESSION_TIMEOUT_S,  # a killed peer's partitions move on
        broker_heartbeat_interval=1.0,
        broker_commit_interval=0.5,
        stream_processing_timeout=60.0,
        producer_linger=0.0,
        producer_request_timeout=settings.produce_timeout_s,
        producer_acks=-1,
        producer_compression_type=settings.kafka.compression_type,
        producer_max_request_size=MAX_MESSAGE_BYTES,
        producer_partitioner=partitioner,  # Kafka's rule, each conversation id hashed once
        consumer_max_fetch_size=MAX_MESSAGE_BYTES,
        consumer_auto_offset_reset="earliest",
        broker_credentials=credentials,
        key_serializer="raw",
        value_serializer="raw",
    )
    app.stop_grace_s = settings.stop_grace_s
    app.transport.Producer = IdempotentProducer  # type: ignore[misc]  # builds app.producer
    install(app)  # faust #596: re-read records lost in recovery
    return app


def broker_credentials(kafka: Connection) -> faust.types.auth.CredentialsT | None:
    """The connection's TLS and SASL settings in faust's terms (it passes them to aiokafka)."""
    if kafka.uses_sasl:
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password,
            ssl_context=kafka.ssl_context(),
            mechanism=kafka.sasl_mechanism,
        )
    if kafka.uses_tls:
        return faust.SSLCredentials(kafka.ssl_context())
    return None


def changelog_config(settings: Settings) -> dict[str, str]:
    """The conversations changelog: durable like every topic, and compacted promptly.

    Finished conversations are deleted from the table (tombstones), so once the log
    cleaner has run, recovery reads only live and recently finished conversations.
    """
    return {
        **durability_config(settings.min_insync_replicas),
        "max.message.bytes": str(MAX_MESSAGE_BYTES),
        "segment.ms": str(10 * 60 * 1000),
        "min.cleanable.dirty.ratio": "0.1",
        "delete.retention.ms": str(60 * 60 * 1000),
    }
