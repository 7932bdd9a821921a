"""Process-wide settings, read once from `AGENTSTREAM_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.event_loop import EventLoop
from topics.connection import Compression, Connection, SaslMechanism, SecurityProtocol
from topics.reply_topics import DEFAULT_REPLY_TOPIC_PATTERNS

DEFAULT_MODEL = "claude-sonnet-4-6"
"""Model named in requests by default, and reported by the local server for requests naming none."""
LOCAL_MODEL_SERVER_PORT = 8765
ANTHROPIC_REQUESTS_PER_S = 50.0
"""Where the local Messages API server listens unless told otherwise."""
CHARS_PER_TOKEN = 4
"""Characters per token wherever tokens are estimated without a tokenizer."""


class Settings(BaseSettings):
    """Everything a process needs to find the broker, the model and its peers."""

    model_config = SettingsConfigDict(
        env_prefix="AGENTSTREAM_", extra="ignore", populate_by_name=True
    )

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices(
            "AGENTSTREAM_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    """PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS)."""
    kafka_sasl_mechanism: SaslMechanism | None = None
    """SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN, with the SASL protocols."""
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_sasl_password_file: Path | None = None
    """Read the password from this file (a mounted secret) instead of the environment."""
    kafka_ssl_cafile: str | None = None
    """PEM file of the CA that signed the brokers' certificates (else the system's CAs)."""
    kafka_ssl_certfile: str | None = None
    """PEM client certificate, for brokers that require mutual TLS (with its key file)."""
    kafka_ssl_keyfile: str | None = None
    kafka_compression: Compression = "none"
    """Producer batch compression: none, gzip, snappy, lz4 or zstd (see `Connection`)."""
    topic_prefix: str = ""
    """Namespace for every topic and consumer group, so test runs never share state."""

    model_backend: Literal["local", "anthropic"] = "local"
    """Where model calls go (`AGENTSTREAM_MODEL_BACKEND`). `local`: the local Messages API
    server, at `anthropic_base_url` if set, else at 127.0.0.1:`local_model_port`.
    `anthropic`: the Anthropic API, at `anthropic_base_url` if set, else the SDK's default;
    needs `anthropic_api_key`. Setting only an API key does not change the backend."""
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("AGENTSTREAM_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
    )
    anthropic_base_url: str | None = None
    """Where the SDK sends Messages API calls, whichever the backend (see `model_backend`)."""
    model: str = DEFAULT_MODEL
    model_max_tokens: int = 1024
    model_timeout_s: float = 60.0
    model_sdk_max_retries: int = 2
    model_requests_per_s: float | None = Field(default=None, gt=0)
    """Messages API calls per second one model worker may start. Unset: 50 with the
    `anthropic` backend (to stay inside account rate limits), none with the local server,
    which has no limits to protect."""
    local_model_port: int = LOCAL_MODEL_SERVER_PORT

    tool_timeout_s: float = 30.0
    conversation_timeout_s: float = 300.0
    call_lease_s: float = Field(default=10.0, gt=0)
    """A model or tool call without a result after this long is published again under the
    same id (workers treat ids as idempotency keys)."""
    finished_retention_s: float = Field(default=3600.0, ge=0)
    """How long a finished conversation's id is remembered, so a redelivered request is
    recognised; after that its table entry is deleted."""
    max_iterations: int = 10
    max_tool_calls_per_turn: int = 8

    reply_topic_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_REPLY_TOPIC_PATTERNS)
    )
    """Topics a request may name as reply_topic (shell patterns under the topic prefix);
    internal and Kafka topics are refused whatever the patterns say."""
    produce_timeout_s: float = Field(default=30.0, gt=0)
    """Bound on every send: metadata wait, broker acknowledgement, reply-topic lookup.
    Longer than a broker restart, so the table's changelog writes ride one out."""
    connect_timeout_s: float = Field(default=10.0, gt=0)
    """How long a command waits for the broker before failing with a one-line error."""
    stop_grace_s: float = Field(default=15.0, gt=0)
    """Bound on a graceful stop (SIGTERM, SIGINT): past it the process exits anyway. Work
    not committed by then is redelivered, as after a crash. A stop can otherwise wait on
    the broker (draining, committing, flushing) for as long as it is gone."""

    replication_factor: int = Field(default=1, ge=1)
    """Replicas of every topic the platform creates (faust's own topics included); 3 on a
    production cluster."""
    min_insync_replicas: int = Field(default=1, ge=1)
    """Replicas that must have a write before acks=all succeeds (2 with replication 3)."""

    event_loop: EventLoop = "uvloop"
    """The asyncio loop every long-running process runs on (`config.event_loop`): uvloop,
    or asyncio for the standard library's own."""
    freeze_startup_heap: bool = True
    """Exempt what a process builds at start from the garbage collector (`config.heap`)."""
    orchestrator_app_id: str = "agentstream-orchestrator"
    orchestrator_switch_interval_s: float = Field(default=0.0005, gt=0)
    """How long a thread may hold the GIL while another waits (Python's default: 5 ms).
    faust's consumer runs on the event loop (`agents.faust_fixes.ConsumerThread`); what
    threads remain (the /metrics server, `asyncio.to_thread` work) hold the loop up for
    at most this long each time they take the GIL."""
    timer_interval_s: float = 0.1

    metrics_port: int | None = None
    """Port for `/metrics`; None disables the endpoint, 0 picks a free port."""
    prices_file: str | None = None

    @property
    def replication(self) -> dict[str, int]:
        """Keyword arguments for `topics.admin.ensure_topics`."""
        return {
            "replication_factor": self.replication_factor,
            "min_insync_replicas": self.min_insync_replicas,
        }

    @property
    def kafka(self) -> Connection:
        """How every client of this process connects to Kafka."""
        password = self.kafka_sasl_password
        return Connection(
            bootstrap_servers=self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=password.get_secret_value() if password is not None else None,
            ssl_cafile=self.kafka_ssl_cafile,
            ssl_certfile=self.kafka_ssl_certfile,
            ssl_keyfile=self.kafka_ssl_keyfile,
            compression=self.kafka_compression,
        )

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Settings:
        """Read a password file, and refuse a half-configured security setup at startup."""
        if self.kafka_sasl_password_file is not None:
            if self.kafka_sasl_password is not None:
                raise ValueError(
                    "set AGENTSTREAM_KAFKA_SASL_PASSWORD or AGENTSTREAM_KAFKA_SASL_PASSWORD_FILE, "
                    "not both"
                )
            try:
                text = self.kafka_sasl_password_file.read_text().rstrip("\r\n")
            except OSError as exc:
                raise ValueError(
                    f"AGENTSTREAM_KAFKA_SASL_PASSWORD_FILE cannot be read: {exc.strerror}"
                ) from None
            self.kafka_sasl_password = SecretStr(text)
        try:
            self.kafka  # noqa: B018  # validates the combination
        except ValueError as exc:
            raise ValueError(f"Kafka security settings: {exc}") from None
        return self

    @model_validator(mode="after")
    def _anthropic_backend_has_a_key(self) -> Settings:
        """The real API refuses calls without a key; say so at startup, not at the first call."""
        key = self.anthropic_api_key
        if self.model_backend == "anthropic" and (key is None or not key.get_secret_value()):
            raise ValueError(
                "AGENTSTREAM_MODEL_BACKEND=anthropic needs an API key: set ANTHROPIC_API_KEY "
                "(or AGENTSTREAM_ANTHROPIC_API_KEY), or use AGENTSTREAM_MODEL_BACKEND=local"
            )
        return self

    @property
    def model_rate_limit(self) -> float | None:
        """Calls per second per model worker, None for no limit."""
        if self.model_requests_per_s is not None:
            return self.model_requests_per_s
        return None if self.uses_local_model else ANTHROPIC_REQUESTS_PER_S

    @property
    def uses_local_model(self) -> bool:
        """True when model calls go to the local Messages API server."""
        return self.model_backend == "local"

    @property
    def effective_base_url(self) -> str | None:
        """The SDK's `base_url`: None leaves the SDK's default (the Anthropic API)."""
        if self.anthropic_base_url:
            return self.anthropic_base_url
        if self.uses_local_model:
            return f"http://127.0.0.1:{self.local_model_port}"
        return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (environment read once)."""
    return Settings()
