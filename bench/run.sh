#!/usr/bin/env bash
# Run the benchmark; see bench/README.md. Knobs are environment variables.
set -euo pipefail
exec python3 "$(dirname "$0")/run.py" "$@"
