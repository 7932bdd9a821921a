"""How to reach Kafka: bootstrap servers and, on a secured cluster, TLS and SASL.

Plain data (and the standard library's ssl), so settings and pure code may hold one;
`topics.clients` turns it into Kafka clients.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]


@dataclass(frozen=True)
class Connection:
    """How to reach Kafka. The password never appears in the repr (logs, tracebacks)."""

    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    compression: Compression = "none"
    """Producer batch compression. None by default: the platform's records are a few
    hundred bytes, where zstd saves ~130 B a record for ~26 us to build and ~30 us to read,
    and costs the tool hop ~2 ms at p50 (README, "Compression"). Worth it where network
    bytes are dear and records large (zstd saves 72 KB of a 100 KB transcript)."""

    def __post_init__(self) -> None:
        if self.uses_sasl and not (self.sasl_mechanism and self.sasl_username):
            raise ValueError(
                f"{self.security_protocol} needs a SASL mechanism, a username and a password"
            )
        if self.sasl_password is None and self.uses_sasl:
            raise ValueError(f"{self.security_protocol} needs a SASL password")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise ValueError("a client certificate needs its key, and a key its certificate")

    @property
    def compression_type(self) -> str | None:
        """The codec as aiokafka and faust's producers take it (None: uncompressed)."""
        return None if self.compression == "none" else self.compression

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for SSL and SASL_SSL: the CA to trust, the client certificate."""
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def options(self) -> dict[str, Any]:
        """Keyword arguments every aiokafka client takes to connect."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        return options

    def __str__(self) -> str:
        return self.bootstrap_servers


Target = str | Connection
"""A Connection, or the bootstrap servers of an unsecured cluster."""


def connection(target: Target) -> Connection:
    return target if isinstance(target, Connection) else Connection(target)
