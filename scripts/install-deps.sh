#!/usr/bin/env bash
# Installs the npm packages (when missing or out of date) and builds dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.snapledger-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi
npm run build --silent
