#!/usr/bin/env bash
# Tools `make bench` needs beyond the platform: the `bench` extra (Celery, the redis client,
# matplotlib) and a redis-server binary. Safe to run again. Whatever cannot be installed is
# named on one line and the baselines that need it are skipped: this script always exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

if [ ! -x "$PY" ]; then
  echo "missing: .venv (run 'make install'); Celery+Redis baselines will be skipped" >&2
  exit 0
fi

# True when every pin of the `bench` extra is installed at exactly that version.
pinned() {
  "$PY" - 2>/dev/null <<'PY'
import importlib.metadata as md
import tomllib

with open("pyproject.toml", "rb") as f:
    extra = tomllib.load(f)["project"]["optional-dependencies"]["bench"]
for pin in extra:
    name, version = pin.split("==")
    assert md.version(name) == version, pin
PY
}

if ! pinned; then
  if ! "$PY" -m pip install -q -e '.[bench]' >/dev/null 2>&1 || ! pinned; then
    echo "missing: the bench extra (celery, redis, matplotlib) did not install;" \
      "Celery+Redis baselines and the report plot will be skipped" >&2
  fi
fi

if ! command -v redis-server >/dev/null; then
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo -n)
  if command -v apt-get >/dev/null && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
    "${sudo[@]}" apt-get update -qq >/dev/null 2>&1
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server \
      >/dev/null 2>&1
  fi
  if ! command -v redis-server >/dev/null; then
    echo "missing: redis-server (apt-get install redis-server);" \
      "Celery+Redis baselines will be skipped" >&2
  fi
fi
exit 0
