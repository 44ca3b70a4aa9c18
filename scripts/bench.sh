#!/usr/bin/env bash
# Benchmarks print figures; they assert nothing about speed (README "Benchmarks").
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
for b in bench/*.ts; do
  echo "== $b"
  node --import tsx "$b"
done
