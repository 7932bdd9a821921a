"""`agentstream model-server`: the local Messages API server on the configured port."""

from __future__ import annotations

from config.settings import get_settings
from local_model.__main__ import main as serve_main


def main(argv: list[str]) -> int:
    if not any(a == "--port" or a.startswith("--port=") for a in argv):
        argv = [*argv, "--port", str(get_settings().local_model_port)]
    serve_main(argv)
    return 0
