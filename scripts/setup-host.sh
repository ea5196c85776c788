#!/usr/bin/env bash
# Installs what snapledger needs on a Debian 12 host (as root) and starts libvirt.
# Safe to run again: it installs only what is missing and starts only what is stopped.
# --browser also installs Debian's Chromium, which the review page's browser tests drive
# (scripts/test.sh passes it; the service itself needs no browser).
set -euo pipefail
with_browser=no
[ "${1:-}" = "--browser" ] && with_browser=yes

need_apt=()
command -v qemu-img >/dev/null || need_apt+=(qemu-utils)
command -v qemu-system-x86_64 >/dev/null || need_apt+=(qemu-system-x86)
command -v libvirtd >/dev/null || need_apt+=(libvirt-daemon-system)
command -v virsh >/dev/null || need_apt+=(libvirt-clients)
command -v g++ >/dev/null || need_apt+=(g++)
command -v make >/dev/null || need_apt+=(make)
command -v python3 >/dev/null || need_apt+=(python3)
command -v curl >/dev/null || need_apt+=(curl)
# Debian's OpenStack CLI (OSC 6.0, openstacksdk 0.101), for test/integration/openstack-cli.e2e.test.ts.
command -v openstack >/dev/null || need_apt+=(python3-openstackclient)
# PostgreSQL's server binaries: the tests start throwaway clusters of their own
# (test/support/postgres-server.ts); nothing here starts Debian's default cluster.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_apt+=(postgresql)
# Debian's Glance (25), for the Glance image store's tests: they start throwaway glance-api
# processes of their own (test/support/glance-server.ts); the packaged service is not started.
command -v glance-api >/dev/null || need_apt+=(glance-api)
# LVM, for the block- and LVM-backed disk tests (a volume group on a loop device of their own).
command -v lvcreate >/dev/null || need_apt+=(lvm2)
if [ "$with_browser" = yes ]; then
  command -v chromium >/dev/null || need_apt+=(chromium)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v node >/dev/null; then
  echo "setup: Node.js 20 or newer is required (node was not found)" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required, found $(node --version)" >&2
  exit 1
fi

# libvirt: nothing starts by itself on this machine kind; start virtlogd, then libvirtd.
uri=${SNAPLEDGER_LIBVIRT_URI:-qemu:///system}
if ! virsh -c "$uri" version >/dev/null 2>&1; then
  pidof virtlogd >/dev/null || virtlogd -d
  pidof libvirtd >/dev/null || libvirtd -d
  for _ in $(seq 1 100); do
    virsh -c "$uri" version >/dev/null 2>&1 && break
    sleep 0.1
  done
  virsh -c "$uri" version >/dev/null || { echo "setup: libvirtd did not come up" >&2; exit 1; }
  echo "setup: libvirtd is running"
fi
