"""Which model backend the settings choose, and where its calls go."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import LOCAL_MODEL_SERVER_PORT, Settings

MODEL_ENV = (
    "ANTHROPIC_API_KEY",
    "AGENTSTREAM_ANTHROPIC_API_KEY",
    "AGENTSTREAM_ANTHROPIC_BASE_URL",
    "AGENTSTREAM_MODEL_BACKEND",
    "AGENTSTREAM_LOCAL_MODEL_PORT",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model setting leaks in from the shell running the tests."""
    for name in MODEL_ENV:
        monkeypatch.delenv(name, raising=False)


def test_local_backend_is_the_default() -> None:
    settings = Settings()
    assert settings.model_backend == "local"
    assert settings.uses_local_model
    assert settings.effective_base_url == f"http://127.0.0.1:{LOCAL_MODEL_SERVER_PORT}"


def test_local_backend_follows_the_local_model_port() -> None:
    assert Settings(local_model_port=9001).effective_base_url == "http://127.0.0.1:9001"


def test_local_backend_uses_the_configured_base_url() -> None:
    settings = Settings(model_backend="local", anthropic_base_url="http://model-server:8765")
    assert settings.uses_local_model
    assert settings.effective_base_url == "http://model-server:8765"


def test_an_api_key_alone_does_not_switch_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    settings = Settings()
    assert settings.model_backend == "local"
    assert settings.uses_local_model
    assert settings.effective_base_url == f"http://127.0.0.1:{LOCAL_MODEL_SERVER_PORT}"


@pytest.mark.parametrize("key", [None, ""])
def test_anthropic_backend_without_a_key_fails_naming_both_variables(
    monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    monkeypatch.setenv("AGENTSTREAM_MODEL_BACKEND", "anthropic")
    if key is not None:
        monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    with pytest.raises(ValidationError) as raised:
        Settings()
    message = str(raised.value)
    assert "AGENTSTREAM_MODEL_BACKEND=anthropic" in message
    assert "ANTHROPIC_API_KEY" in message


def test_anthropic_backend_with_a_key_uses_the_sdk_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTSTREAM_MODEL_BACKEND", "anthropic")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    settings = Settings()
    assert not settings.uses_local_model
    assert settings.effective_base_url is None
    assert settings.anthropic_api_key is not None
    assert settings.anthropic_api_key.get_secret_value() == "sk-ant-test"


def test_anthropic_backend_uses_the_configured_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSTREAM_ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("AGENTSTREAM_ANTHROPIC_BASE_URL", "https://gateway.example/anthropic")
    settings = Settings(model_backend="anthropic")
    assert not settings.uses_local_model
    assert settings.effective_base_url == "https://gateway.example/anthropic"


def test_unknown_backend_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSTREAM_MODEL_BACKEND", "openai")
    with pytest.raises(ValidationError, match="model_backend"):
        Settings()


def test_the_local_server_is_not_rate_limited_and_the_real_api_is() -> None:
    assert Settings(model_backend="local").model_rate_limit is None
    real = Settings(model_backend="anthropic", anthropic_api_key="sk-test")
    assert real.model_rate_limit == 50.0
    chosen = Settings(model_backend="local", model_requests_per_s=7)
    assert chosen.model_rate_limit == 7


def test_kafka_security_settings_build_the_connection_and_hide_the_password() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="worker-calculator",
        kafka_sasl_password="s3cret",
    )
    assert settings.kafka.options()["sasl_plain_password"] == "s3cret"
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.kafka)


def test_the_password_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-a-file\n")
    settings = Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="u",
        kafka_sasl_password_file=secret,
    )
    assert settings.kafka.sasl_password == "from-a-file"


def test_a_half_configured_kafka_security_fails_at_startup() -> None:
    with pytest.raises(ValidationError, match="Kafka security settings"):
        Settings(kafka_security_protocol="SASL_SSL")
