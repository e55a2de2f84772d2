#!/usr/bin/env bash
# A rolling deploy of the compose stack: migrate (expand-only, so the running release lives with it),
# then replace web1, web2, worker1, worker2 one by one, each only after the previous one is healthy.
# WeCom keeps calling throughout: Caddy sends callbacks to the web process that is not being replaced.
# Rehearsed with real processes by `make deploy-drill` (bench/deploy_drill.py; bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
compose() { docker compose "$@"; }

compose build
compose run --rm migrate
for service in web1 web2 worker1 worker2; do
  echo "deploy: replacing $service"
  # SIGTERM, then up to stop_grace_period: a web process drains and finishes its requests, a worker
  # finishes or releases the events it holds.
  compose up -d --no-deps --force-recreate "$service"
  for _ in $(seq 1 60); do
    status=$(docker inspect --format '{{.State.Health.Status}}' "$(compose ps -q "$service")" 2>/dev/null || echo starting)
    [ "$status" = healthy ] && break
    sleep 1
  done
  [ "$status" = healthy ] || { echo "deploy: $service did not become healthy; stopping here" >&2; exit 1; }
  sleep 2  # two of the proxy's health checks: back in rotation before the next one goes
done
echo "deploy: done"
