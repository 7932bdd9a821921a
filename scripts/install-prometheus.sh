#!/usr/bin/env bash
# Installs Prometheus and promtool (Debian's `prometheus` package) for the monitoring tests.
# Idempotent: does nothing when both are already on PATH. The package's service is never
# started: a temporary policy-rc.d forbids it, and a daemon started anyway is stopped again.
set -euo pipefail

if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
  promtool --version 2>&1 | head -n 1
  exit 0
fi

if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
  echo "prometheus/promtool missing: run this script as root on Debian/Ubuntu," \
       "or install Prometheus so that 'promtool' and 'prometheus' are on PATH" >&2
  exit 1
fi

POLICY=/usr/sbin/policy-rc.d
BACKUP=""
# Prometheus daemons running before the install are not ours: never touch them.
before="$(pgrep -x prometheus || true)"

restore_policy() {
  if [ -n "$BACKUP" ]; then
    mv -f "$BACKUP" "$POLICY"
  else
    rm -f "$POLICY"
  fi
}

if [ -e "$POLICY" ]; then
  BACKUP="$(mktemp /usr/sbin/policy-rc.d.agentstream.XXXXXX)"
  cp -p "$POLICY" "$BACKUP"
fi
trap restore_policy EXIT
printf '#!/bin/sh\n# Installing prometheus: no service may start.\nexit 101\n' >"$POLICY"
chmod 755 "$POLICY"

export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when they do not know the package yet.
if ! apt-cache policy prometheus 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  apt-get update -qq
fi
# No recommends: prometheus-node-exporter would be a second service to keep stopped.
apt-get install -y -qq --no-install-recommends prometheus >/dev/null

restore_policy
trap - EXIT

# If the package started its daemon anyway, stop exactly that one: the pid from its own
# pidfile, or the service's. pgrep only detects; it never chooses what to stop.
after="$(pgrep -x prometheus || true)"
started=""
for pid in $after; do
  grep -qxF "$pid" <<<"$before" || started+="$pid "
done
if [ -n "$started" ]; then
  stopped=0
  for pidfile in /run/prometheus/prometheus.pid /run/prometheus.pid /var/run/prometheus.pid; do
    [ -r "$pidfile" ] || continue
    pid="$(tr -dc '0-9' <"$pidfile")"
    if [ -n "$pid" ] && [[ " $started " == *" $pid "* ]]; then
      kill "$pid" && stopped=1
    fi
  done
  if [ "$stopped" = 0 ]; then
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      systemctl stop prometheus.service || true
    elif [ -x /etc/init.d/prometheus ]; then
      /etc/init.d/prometheus stop || true
    fi
  fi
  for _ in $(seq 50); do
    remaining=""
    for pid in $started; do
      kill -0 "$pid" 2>/dev/null && remaining+="$pid "
    done
    [ -z "$remaining" ] && break
    sleep 0.1
  done
  if [ -n "$remaining" ]; then
    echo "the prometheus service started by the package is still running (pid $remaining)" >&2
    exit 1
  fi
fi

command -v prometheus >/dev/null
promtool --version 2>&1 | head -n 1
