#!/usr/bin/env bash
# Defines (and starts) a small demo domain with no OS: 128 MiB RAM, a qcow2 disk with some
# data on it, no network, a serial console in a file. SeaBIOS finds nothing to boot and idles.
# Usage: scripts/create-demo-domain.sh [name] [dir]
set -euo pipefail
name=${1:-snapledger-demo}
dir=${2:-/var/lib/snapledger-demo}
uri=${SNAPLEDGER_LIBVIRT_URI:-qemu:///system}

if virsh -c "$uri" dominfo "$name" >/dev/null 2>&1; then
  echo "domain $name already exists"
  [ "$(virsh -c "$uri" domstate "$name")" = "running" ] || virsh -c "$uri" start "$name" >/dev/null
  exit 0
fi

mkdir -p "$dir"
chmod 0711 "$dir"
disk="$dir/$name.qcow2"
if [ ! -f "$disk" ]; then
  qemu-img create -q -f qcow2 "$disk" 256M
  # 32 MiB of recognisable data, so the snapshot has something to carry.
  qemu-io -f qcow2 -c 'write -P 0x5a 0 16M' -c 'write -P 0xa5 64M 16M' "$disk" >/dev/null
fi
virt_type=qemu
xml=$(mktemp)
trap 'rm -f "$xml"' EXIT
cat >"$xml" <<XML
<domain type='$virt_type'>
  <name>$name</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <metadata>
    <snapledger:owner xmlns:snapledger="https://snapledger.dev/xmlns/1" project="${SNAPLEDGER_DEFAULT_PROJECT:-default}" user="demo"/>
  </metadata>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'><source path='$dir/$name.console.log' append='on'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
XML
virsh -c "$uri" define "$xml" >/dev/null
virsh -c "$uri" start "$name" >/dev/null
echo "defined and started domain $name (disk $disk)"
