#!/usr/bin/env bash
# The main demo: starts PostgreSQL if needed, then runs the meal planner under
# a shifting load with finch tuning it (about 4 minutes). Extra arguments go to
# the demo (`--short`, `--static`, `--out DIR`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo run --release -p meal-planner -- demo "$@"
