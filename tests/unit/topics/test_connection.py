"""How a Connection turns settings into aiokafka's connection arguments, and what it refuses."""

from __future__ import annotations

import ssl

import pytest

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
