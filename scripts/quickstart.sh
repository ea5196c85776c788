#!/usr/bin/env bash
# From a fresh Debian 12 machine: installs everything, starts libvirtd, defines a small demo
# domain with no OS, starts snapledger on its embedded defaults (SQLite in ./data, port
# 8774), takes a snapshot through the API and prints it. The service keeps running.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-host.sh
./scripts/install-deps.sh

export SNAPLEDGER_DATA_DIR=${SNAPLEDGER_DATA_DIR:-$PWD/data}
export SNAPLEDGER_PORT=${SNAPLEDGER_PORT:-8774}
mkdir -p "$SNAPLEDGER_DATA_DIR"
chmod 0700 "$SNAPLEDGER_DATA_DIR"

./scripts/create-demo-domain.sh snapledger-demo

pidfile=$SNAPLEDGER_DATA_DIR/snapledger.pid
log=$SNAPLEDGER_DATA_DIR/snapledger.log
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "snapledger is already running (pid $(cat "$pidfile"))"
else
  nohup node bin/snapledger serve >>"$log" 2>&1 &
  echo $! >"$pidfile"
  echo "started snapledger (pid $(cat "$pidfile")), log in $log"
fi

url=http://127.0.0.1:$SNAPLEDGER_PORT
for _ in $(seq 1 300); do
  if [ -f "$SNAPLEDGER_DATA_DIR/admin-token" ] &&
     curl -fsS -o /dev/null -H "X-Auth-Token: $(cat "$SNAPLEDGER_DATA_DIR/admin-token")" "$url/v1/instances"; then
    break
  fi
  kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "snapledger exited; see $log" >&2; tail -20 "$log" >&2; exit 1; }
  sleep 0.2
done
token=$(cat "$SNAPLEDGER_DATA_DIR/admin-token")

node bin/snapledger instances sync >/dev/null
name="demo-$(date +%Y%m%d-%H%M%S)"
echo
echo "== snapshot of snapledger-demo as image '$name' (createImage through the Nova API)"
SNAPLEDGER_PROGRESS=1 node bin/snapledger snapshot snapledger-demo --name "$name" --wait

instance=$(virsh -c "${SNAPLEDGER_LIBVIRT_URI:-qemu:///system}" domuuid snapledger-demo)
echo
echo "== its history (GET /v1/instances/$instance/snapshots)"
curl -fsS -H "X-Auth-Token: $token" "$url/v1/instances/$instance/snapshots" | node -e '
  const { snapshots } = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const s = snapshots[0];
  console.log(`${s.image_name}: ${s.result}, mode ${s.mode}, downtime ${s.downtime_ms} ms`);
  for (const step of s.steps) console.log(`  ${step.step.padEnd(8)} ${String(step.durationMs).padStart(6)} ms`);'
echo
echo "snapledger is running at $url (pid $(cat "$pidfile")); admin token in $SNAPLEDGER_DATA_DIR/admin-token"
echo "review page: $url/ui/ (sign in with that token)"
echo "stop it with: kill $(cat "$pidfile")"
