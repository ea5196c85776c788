import type { DomainDetails, DomainDisk, DomainOwner } from './hypervisor.port';
import { attr, children, nsChildren, parseXmlTree, text, type XmlNode } from './xml-tree';

/**
 * What snapledger reads from `virsh dumpxml`: no I/O here, the driver runs virsh and hands
 * over its output.
 */
export type DomainXmlFacts = Pick<
  DomainDetails,
  'uuid' | 'name' | 'vcpus' | 'memoryMiB' | 'snapshotDisk' | 'owner' | 'guestAgent'
>;

const NOVA_NS = /^http:\/\/openstack\.org\/xmlns\/libvirt\/nova\/1\.\d+$/;
const SNAPLEDGER_NS = 'https://snapledger.dev/xmlns/1';
const GUEST_AGENT_CHANNEL = 'org.qemu.guest_agent.0';

/** `domain` names the domain in error messages only. */
export function parseDomainXml(xml: string, domain: string): DomainXmlFacts {
  const root = domainElement(xml);
  if (!root) throw new Error(`virsh dumpxml for ${domain} returned no <domain> element`);
  const uuid = text(children(root, 'uuid')[0]).toLowerCase();
  const name = text(children(root, 'name')[0]);
  if (!uuid || !name) throw new Error(`domain XML of ${domain} has no uuid or name`);

  // <vcpu current='1'>2</vcpu>: the guest runs with `current`, up to 2 by hotplug.
  const vcpuNode = children(root, 'vcpu')[0];
  const vcpus = Number(attr(vcpuNode, 'current') ?? text(vcpuNode));
  const memoryNode = children(root, 'memory')[0];
  const memoryMiB = toMiB(Number(text(memoryNode)), attr(memoryNode, 'unit') ?? 'KiB');
  if (!Number.isFinite(vcpus) || !Number.isFinite(memoryMiB)) {
    throw new Error(`domain XML of ${domain} has no readable <vcpu> or <memory>`);
  }

  return {
    uuid,
    name,
    vcpus,
    memoryMiB,
    snapshotDisk: snapshotDisk(root),
    owner: ownerFromMetadata(children(root, 'metadata')[0]),
    guestAgent: hasGuestAgent(root),
  };
}

/**
 * The live XML shows a block copy of the disk `target` into `destination` (a <mirror>);
 * false as well when the XML has no <domain>.
 */
export function mirrorsInto(xml: string, target: string, destination: string): boolean {
  for (const devices of children(domainElement(xml), 'devices')) {
    for (const disk of children(devices, 'disk')) {
      if (attr(children(disk, 'target')[0], 'dev') !== target) continue;
      for (const mirror of children(disk, 'mirror')) {
        const file = attr(mirror, 'file') ?? attr(children(mirror, 'source')[0], 'file');
        if (file === destination) return true;
      }
    }
  }
  return false;
}

function domainElement(xml: string): XmlNode | undefined {
  return children(parseXmlTree(xml), 'domain')[0];
}

const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  bytes: 1,
  kb: 1e3,
  k: 1024,
  kib: 1024,
  mb: 1e6,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1e9,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1e12,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

function toMiB(value: number, unit: string): number {
  const factor = UNIT_BYTES[unit.toLowerCase()];
  if (factor === undefined) return Number.NaN;
  return Math.floor((value * factor) / 1024 ** 2);
}

/**
 * The disk a snapshot copies: the first device='disk' whose source is a file or a block
 * device (an LVM logical volume, a partition, a loop device), in the order libvirt lists them
 * (it sorts disks by bus and target). Its <source> is the top of any backing chain; cdroms
 * and network disks are passed over.
 */
function snapshotDisk(domainNode: XmlNode): DomainDisk | null {
  for (const devices of children(domainNode, 'devices')) {
    for (const disk of children(devices, 'disk')) {
      const type = attr(disk, 'type');
      if ((type !== 'file' && type !== 'block') || attr(disk, 'device') !== 'disk') continue;
      const path = attr(children(disk, 'source')[0], type === 'file' ? 'file' : 'dev');
      if (!path) continue;
      return {
        path,
        kind: type,
        format: attr(children(disk, 'driver')[0], 'type') ?? null,
        target: attr(children(disk, 'target')[0], 'dev') ?? '',
      };
    }
  }
  return null;
}

function hasGuestAgent(domainNode: XmlNode): boolean {
  for (const devices of children(domainNode, 'devices')) {
    for (const channel of children(devices, 'channel')) {
      for (const target of children(channel, 'target')) {
        if (attr(target, 'name') === GUEST_AGENT_CHANNEL) return true;
      }
    }
  }
  return false;
}

/**
 * Nova's <nova:instance><nova:owner> (any 1.x of its namespace) wins over snapledger's own
 * <snapledger:owner project user>; an owner missing either id does not count.
 */
function ownerFromMetadata(metadata: XmlNode | undefined): DomainOwner | null {
  if (!metadata) return null;
  const top = nsChildren(metadata, new Map());

  for (const instance of top) {
    if (instance.localName !== 'instance' || !instance.ns || !NOVA_NS.test(instance.ns)) continue;
    for (const owner of nsChildren(instance.node, instance.scope)) {
      if (owner.localName !== 'owner' || owner.ns !== instance.ns) continue;
      const parts = nsChildren(owner.node, owner.scope).filter((e) => e.ns === instance.ns);
      const userId = attr(parts.find((e) => e.localName === 'user')?.node, 'uuid');
      const projectId = attr(parts.find((e) => e.localName === 'project')?.node, 'uuid');
      if (userId && projectId) return { projectId, userId, source: 'nova' };
    }
  }

  for (const owner of top) {
    if (owner.localName !== 'owner' || owner.ns !== SNAPLEDGER_NS) continue;
    const projectId = attr(owner.node, 'project');
    const userId = attr(owner.node, 'user');
    if (projectId && userId) return { projectId, userId, source: 'snapledger' };
  }
  return null;
}
