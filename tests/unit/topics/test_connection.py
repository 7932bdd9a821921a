"""How a Connection turns settings into aiokafka's connection arguments, and what it refuses."""

from __future__ import annotations

import ssl

import pytest

from agents.faust_app import build_app
from config.settings import Settings
from topics import clients
from topics.connection import Connection, connection


def test_a_plain_string_is_an_unsecured_cluster() -> None:
    assert connection("h:9092").options() == {
        "bootstrap_servers": "h:9092",
        "security_protocol": "PLAINTEXT",
    }


def test_sasl_over_tls_passes_the_mechanism_the_credentials_and_a_tls_context() -> None:
    kafka = Connection("h:9093", "SASL_SSL", "SCRAM-SHA-512", "orchestrator", "s3cret")
    options = kafka.options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "orchestrator",
        "s3cret",
    )
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_the_password_stays_out_of_the_repr() -> None:
    kafka = Connection("h:9093", "SASL_PLAINTEXT", "PLAIN", "u", "s3cret")
    assert "s3cret" not in repr(kafka) and "s3cret" not in str(kafka)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"security_protocol": "SASL_SSL"},
        {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "u"},
        {"security_protocol": "SSL", "ssl_certfile": "client.pem"},
    ],
    ids=["no-mechanism", "no-password", "cert-without-key"],
)
def test_half_configured_security_is_refused(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        Connection("h:9093", **kwargs)  # type: ignore[arg-type]


async def test_producers_do_not_compress_unless_told() -> None:
    producer = clients.producer("127.0.0.1:9")  # never started: nothing connects
    assert producer._compression_type is None
    app = build_app(Settings(kafka_bootstrap_servers="127.0.0.1:9"))
    assert app.conf.producer_compression_type is None


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
async def test_the_configured_codec_reaches_every_producer(
    codec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTSTREAM_KAFKA_COMPRESSION", codec)
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:9")
    assert clients.producer(settings.kafka)._compression_type == codec
    assert build_app(settings).conf.producer_compression_type == codec


def test_an_unknown_codec_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSTREAM_KAFKA_COMPRESSION", "brotli")
    with pytest.raises(ValueError, match="kafka_compression"):
        Settings()
