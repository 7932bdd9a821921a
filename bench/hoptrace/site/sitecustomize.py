"""Loaded at start-up by every Python process that has this directory on its PYTHONPATH
(`python -m bench.hoptrace` puts it there for the platform it starts)."""

from bench.hoptrace.recorder import install_from_env

install_from_env()
