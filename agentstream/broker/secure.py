"""The secured variant of the project's broker: SASL_SSL with SCRAM, and KRaft's authorizer.

Clients reach it only through one SASL_SSL listener (TLS with a certificate from
`tls.issue`, SCRAM-SHA-256/512 users created when the storage is formatted). The
StandardAuthorizer refuses whatever no ACL allows; `admin` is the super user that
creates topics and grants ACLs. The controller listener stays on loopback for the
node's own quorum traffic.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from agentstream.broker.tls import issue
from topics.connection import Connection, Target

LISTENER = "SECURE"
ADMIN = "admin"
MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule required"


@dataclass(frozen=True)
class Secured:
    """What a client needs to reach a secured broker started here (home/secure.json)."""

    bootstrap_servers: str
    """Every node's SASL_SSL listener, comma-separated."""
    ca_file: str
    admin_password: str

    def connection(self, user: str = ADMIN, password: str | None = None) -> Connection:
        """A SASL_SSL connection as `user` (the admin unless told otherwise)."""
        return Connection(
            bootstrap_servers=self.bootstrap_servers,
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username=user,
            sasl_password=self.admin_password if password is None else password,
            ssl_cafile=self.ca_file,
        )

    def env(self, user: str = ADMIN, password: str | None = None) -> dict[str, str]:
        """The AGENTSTREAM_* variables that point a platform process at this broker."""
        kafka = self.connection(user, password)
        return {
            "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "AGENTSTREAM_KAFKA_SECURITY_PROTOCOL": kafka.security_protocol,
            "AGENTSTREAM_KAFKA_SASL_MECHANISM": str(kafka.sasl_mechanism),
            "AGENTSTREAM_KAFKA_SASL_USERNAME": user,
            "AGENTSTREAM_KAFKA_SASL_PASSWORD": str(kafka.sasl_password),
            "AGENTSTREAM_KAFKA_SSL_CAFILE": self.ca_file,
        }


def prepare(home: Path, ports: list[int]) -> Secured:
    """Certificates (one loopback certificate serves every node) and the admin's password
    for a new secured broker or cluster in `home`."""
    tls = issue(home / "tls")
    return Secured(
        bootstrap_servers=",".join(f"127.0.0.1:{port}" for port in ports),
        ca_file=str(tls.ca_cert),
        admin_password=secrets.token_urlsafe(18),
    )


def properties(secured: Secured, home: Path, port: int, controller_port: int) -> dict[str, str]:
    """One node's server.properties entries that replace the plaintext client listener
    (nodes talk to each other on it too, as the admin)."""
    admin_login = f'{SCRAM_LOGIN} username="{ADMIN}" password="{secured.admin_password}";'
    props = {
        "listeners": f"{LISTENER}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"{LISTENER}://127.0.0.1:{port}",
        "listener.security.protocol.map": f"{LISTENER}:SASL_SSL,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": LISTENER,
        "sasl.enabled.mechanisms": ",".join(MECHANISMS),
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        f"listener.name.{LISTENER.lower()}.ssl.keystore.type": "PEM",
        f"listener.name.{LISTENER.lower()}.ssl.keystore.location": str(home / "tls/broker.pem"),
        # The node checks at start that it could talk TLS to itself (inter-broker traffic).
        f"listener.name.{LISTENER.lower()}.ssl.truststore.type": "PEM",
        f"listener.name.{LISTENER.lower()}.ssl.truststore.location": secured.ca_file,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # ANONYMOUS: the node's own controller traffic on its loopback controller listener.
        "super.users": f"User:{ADMIN};User:ANONYMOUS",
        "allow.everyone.if.no.acl.found": "false",
    }
    for mechanism in MECHANISMS:
        props[f"listener.name.{LISTENER.lower()}.{mechanism.lower()}.sasl.jaas.config"] = (
            admin_login
        )
    return props


def scram_arguments(secured: Secured, users: dict[str, str]) -> list[str]:
    """`--add-scram` arguments for the storage format: the admin plus `users`."""
    accounts = {ADMIN: secured.admin_password, **users}
    return [
        argument
        for name, password in accounts.items()
        for mechanism in MECHANISMS
        for argument in ("--add-scram", f"{mechanism}=[name={name},password={password}]")
    ]


def record(home: Path, secured: Secured) -> None:
    """Write home/secure.json, readable by its owner only (it holds the admin password)."""
    path = home / "secure.json"
    path.write_text(json.dumps(asdict(secured)))
    os.chmod(path, 0o600)


def read(home: Path) -> Secured | None:
    path = home / "secure.json"
    return Secured(**json.loads(path.read_text())) if path.exists() else None


def node_target(home: Path, bootstrap_servers: str) -> Target:
    """How to reach one node of the broker in `home`: as the admin if it is secured."""
    secured = read(home)
    if secured is None:
        return bootstrap_servers
    return replace(secured.connection(), bootstrap_servers=bootstrap_servers)
