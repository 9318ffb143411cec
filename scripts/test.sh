#!/usr/bin/env bash
# The test command: sets up PostgreSQL and promtool if needed, then runs every
# test of the workspace (unit, integration, UI, doc, and PostgreSQL end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --promtool
export FINCH_REQUIRE_PROMTOOL=1
cargo test --workspace --all-features
# The soak test: a simulated week with a day of store outage (ignored by the
# plain run: about 45 s unoptimised, 7 s in release).
cargo test --release -p finch-core --all-features --test soak -- --ignored
