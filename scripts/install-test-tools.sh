#!/usr/bin/env bash
# Tools the test suite needs beyond pip: Java and Maven for the local Kafka broker.
set -euo pipefail
missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
if ((${#missing[@]})); then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing: ${missing[*]} (install them, or set KAFKA_BOOTSTRAP_SERVERS)" >&2
    exit 1
  fi
fi
