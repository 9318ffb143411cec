#!/usr/bin/env bash
# Brings up what finch's tests and demos need on a fresh machine: PostgreSQL
# on 127.0.0.1:5432, and with --promtool also promtool (Debian package
# `prometheus`).
set -euo pipefail

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "setup: starting PostgreSQL"
    pg_ctlcluster 15 main start
    for _ in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && break
        sleep 1
    done
fi
pg_isready -h 127.0.0.1 -p 5432

if [ "${1:-}" != "--promtool" ]; then
    exit 0
fi
if ! command -v promtool >/dev/null; then
    echo "setup: installing promtool (Debian package prometheus)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool --version | head -1
