#!/bin/sh
# rinit's demo: four services from configs/demo.toml started in dependency order
# (setup, then db and worker, then app once db listens on TCP); press Ctrl+C to watch
# rinit stop them in reverse order (app and worker, then db) and exit.
# Usage: demo/run.sh [PATH-TO-RINIT]
here=$(cd "$(dirname "$0")/.." && pwd)
RINIT=${1:-$here/target/release/rinit}
echo "demo: starting rinit -c configs/demo.toml  (press Ctrl+C to stop)"
exec "$RINIT" -c "$here/configs/demo.toml"
