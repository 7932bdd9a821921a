"""The `agentstream` command: one entry point, one subcommand per process kind."""

from __future__ import annotations

import importlib
import logging
import sys

from aiokafka.errors import KafkaError

from topics.acl_admin import AclError
from topics.admin import BrokerUnavailable, MissingTopics

USAGE = """usage: agentstream COMMAND [ARGS]

commands:
  broker start|stop|status   run a local Apache Kafka broker (KRaft) on loopback
  topics create|list         create every platform topic (idempotent)
  acls plan|apply            least-privilege ACLs per role, printed or granted
  orchestrator               run the orchestrator (faust worker)
  worker --tool NAME         run one member of a tool's worker pool
  model-worker               run one member of the model-call worker pool
  model-server               run the local Messages API server (embedded default model)
  tools lint|list            check tool descriptions and report their token cost
  lag-exporter               export consumer lag and topic sizes to Prometheus
  submit "PROMPT"            publish one request and stream its progress
  demo                       start everything locally, run a few conversations, stop
"""

COMMANDS: dict[str, str] = {
    "broker": "agentstream.broker",
    "topics": "agentstream.topics_command",
    "acls": "agentstream.acls_command",
    "orchestrator": "agents.main",
    "worker": "tool_workers.tool_worker",
    "model-worker": "tool_workers.model_worker",
    "model-server": "local_model.settings",
    "tools": "tool_workers.lint",
    "lag-exporter": "monitoring.lag_exporter",
    "submit": "agentstream.client",
    "demo": "agentstream.demo",
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the subcommand named by the first argument (imported lazily)."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    # Short commands print one-line errors; long-running ones configure logging in boot().
    logging.getLogger().addHandler(logging.NullHandler())
    module = COMMANDS.get(args[0])
    if module is None:
        print(f"unknown command {args[0]!r}\n{USAGE}", file=sys.stderr)
        return 2
    try:
        return int(importlib.import_module(module).main(args[1:]) or 0)
    except (AclError, BrokerUnavailable, MissingTopics, KafkaError, TimeoutError) as exc:
        # Expected operational failures: one line, no traceback.
        print(f"agentstream {args[0]}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return "timed out"
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
