"""The `agentstream` command: one entry point, one subcommand per process kind."""

from __future__ import annotations

import sys
from collections.abc import Callable

USAGE = """usage: agentstream COMMAND [ARGS]

commands:
  broker start|stop|status   run a local Apache Kafka broker (KRaft) on loopback
  topics create              create every platform topic (idempotent)
  orchestrator               run the orchestrator (faust worker)
  worker --tool NAME         run a pool of workers for one tool
  model-worker               run a pool of model-call workers
  model-server               run the local Messages API server (embedded default model)
  tools lint                 check tool descriptions and report their token cost
  submit "PROMPT"            publish one request and stream its progress
  demo                       start everything locally, run a few conversations, stop
"""


def _broker(argv: list[str]) -> int:
    from agentstream import broker

    return broker.main(argv)


COMMANDS: dict[str, Callable[[list[str]], int]] = {"broker": _broker}


def register(name: str, handler: Callable[[list[str]], int]) -> None:
    """Add a subcommand (kept here so `--help` lists every process kind in one place)."""
    COMMANDS[name] = handler


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the subcommand named by the first argument."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    handler = COMMANDS.get(args[0])
    if handler is None:
        print(f"unknown command {args[0]!r}\n{USAGE}", file=sys.stderr)
        return 2
    return handler(args[1:])


if __name__ == "__main__":
    sys.exit(main())
