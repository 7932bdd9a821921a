"""Users of the secured test broker, with passwords made fresh for each run."""

from __future__ import annotations

import secrets

from agentstream.broker import Secured
from config.settings import Settings
from topics.connection import Connection

SECURE_USERS = {
    name: f"{name}-{secrets.token_urlsafe(12)}"
    for name in (
        "guest",
        "orchestrator",
        "model-worker",
        "monitor",
        "tool-calculator",
        "tool-clock",
        "client-alpha",
        "client-beta",
    )
}
"""SCRAM users of the secured broker (created when its storage is formatted): `guest` has
no ACL at all; the others are the roles of `agentstream acls plan`."""


def login(secured: Secured, user: str) -> Connection:
    """A SASL_SSL connection to the secured broker as one of SECURE_USERS."""
    return secured.connection(user, SECURE_USERS[user])


def settings_as(
    secured: Secured, user: str, prefix: str, replication: dict[str, int] | None = None
) -> Settings:
    """Platform settings that log in to the secured broker as `user`."""
    return settings_for(login(secured, user), prefix, replication)


def settings_for(
    kafka: Connection, prefix: str, replication: dict[str, int] | None = None
) -> Settings:
    """Platform settings that connect as `kafka` says."""
    return Settings(
        **(replication or {}),
        topic_prefix=prefix,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_security_protocol=kafka.security_protocol,
        kafka_sasl_mechanism=kafka.sasl_mechanism,
        kafka_sasl_username=kafka.sasl_username,
        kafka_sasl_password=kafka.sasl_password,
        kafka_ssl_cafile=kafka.ssl_cafile,
    )
