#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: host packages, libvirtd, npm
# packages, build, type check, lint, format check, then unit, contract, replay and
# integration tests (real qemu-img, libvirtd and QEMU domains; the review page in headless
# Chromium, with screenshots in test-output/browser).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-host.sh --browser
./scripts/install-deps.sh
npm run --silent typecheck
npm run --silent typecheck --prefix ui
npm run --silent lint
npm run --silent lint:graph
npm run --silent format:check
npx vitest run "$@"
