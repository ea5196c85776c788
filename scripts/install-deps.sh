#!/usr/bin/env bash
# Installs the npm packages (when missing or out of date) and builds dist/, then the review
# page's own packages (ui/, a separate package so that its bundler stays apart from the
# service's) and its bundle in ui/dist, which the service serves at /ui/.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.snapledger-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi
npm run build --silent

ui_stamp=ui/node_modules/.snapledger-lock
if [ ! -f "$ui_stamp" ] || ! cmp -s ui/package-lock.json "$ui_stamp"; then
  npm ci --prefix ui --no-audit --no-fund
  cp ui/package-lock.json "$ui_stamp"
fi
npm run build --prefix ui --silent >/dev/null
