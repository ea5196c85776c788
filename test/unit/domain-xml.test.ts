import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mirrorsInto, parseDomainXml } from '../../src/drivers/domain-xml';

/**
 * `virsh dumpxml` output recorded from libvirt 9.0 / QEMU 7.2 (see
 * test/fixtures/domain-xml/README.md for how each domain was defined). The images lived under
 * /var/tmp/sl-xmlfix, which no longer exists: parsing never touches the files.
 */
function recorded(name: string): string {
  return readFileSync(join(__dirname, '..', 'fixtures', 'domain-xml', `${name}.xml`), 'utf8');
}

const DIR = '/var/tmp/sl-xmlfix';

describe('parseDomainXml on recorded dumpxml', () => {
  it('given a Nova-style domain with one qcow2 file disk, when parsed, then every fact is read', () => {
    const facts = parseDomainXml(recorded('qcow2-file'), 'sl-xmlfix-qcow2');
    expect(facts.uuid).toBe('11111111-0000-4000-8000-000000000001');
    expect(facts.name).toBe('sl-xmlfix-qcow2');
    // <vcpu current='1'>2</vcpu>: the current count, not the hotplug maximum.
    expect(facts.vcpus).toBe(1);
    // Defined as 512 MiB, dumped by libvirt as 524288 KiB.
    expect(facts.memoryMiB).toBe(512);
    expect(facts.snapshotDisk).toEqual({
      path: `${DIR}/disk.qcow2`,
      kind: 'file',
      format: 'qcow2',
      target: 'vda',
    });
    expect(facts.owner).toEqual({
      projectId: '8d0c3b2a1f4e4d5c9b8a7f6e5d4c3b2a',
      userId: '5e1a6f0c2d6b4f4e9b1c3a7d8e9f0a1b',
      source: 'nova',
    });
    expect(facts.guestAgent).toBe(true);
  });

  it('given the same domain running, when parsed, then the live XML reads the same', () => {
    expect(parseDomainXml(recorded('qcow2-file-running'), 'sl-xmlfix-qcow2')).toEqual(
      parseDomainXml(recorded('qcow2-file'), 'sl-xmlfix-qcow2'),
    );
  });

  it('given a raw file disk on SCSI and a snapledger owner, when parsed, then both are read', () => {
    const facts = parseDomainXml(recorded('raw-file'), 'sl-xmlfix-raw');
    expect(facts.uuid).toBe('11111111-0000-4000-8000-000000000002');
    expect(facts.name).toBe('sl-xmlfix-raw');
    expect(facts.vcpus).toBe(1);
    expect(facts.memoryMiB).toBe(128);
    expect(facts.snapshotDisk).toEqual({
      path: `${DIR}/disk.raw`,
      kind: 'file',
      format: 'raw',
      target: 'sda',
    });
    expect(facts.owner).toEqual({
      projectId: 'project-raw',
      userId: 'user-raw',
      source: 'snapledger',
    });
    expect(facts.guestAgent).toBe(false);
  });

  it('given a running domain on an overlay with a backing chain, when parsed, then the disk is the overlay, not its backing file', () => {
    const xml = recorded('backing-chain-running');
    expect(xml).toContain(`<source file='${DIR}/base.qcow2'/>`);
    const facts = parseDomainXml(xml, 'sl-xmlfix-backing');
    expect(facts.snapshotDisk).toEqual({
      path: `${DIR}/overlay.qcow2`,
      kind: 'file',
      format: 'qcow2',
      target: 'vda',
    });
    expect(facts.owner).toBeNull();
    expect(facts.guestAgent).toBe(false);
  });

  it('given the same domain shut off, when parsed, then its disk reads the same (libvirt shows no chain then)', () => {
    const xml = recorded('backing-chain');
    expect(xml).not.toContain('backingStore');
    expect(parseDomainXml(xml, 'sl-xmlfix-backing').snapshotDisk).toEqual({
      path: `${DIR}/overlay.qcow2`,
      kind: 'file',
      format: 'qcow2',
      target: 'vda',
    });
  });

  it('given a block copy in progress, when parsed, then the disk is still the source, not the mirror', () => {
    const facts = parseDomainXml(recorded('block-copy-running'), 'sl-xmlfix-backing');
    expect(facts.snapshotDisk).toEqual({
      path: `${DIR}/overlay.qcow2`,
      kind: 'file',
      format: 'qcow2',
      target: 'vda',
    });
  });

  it('given an empty cdrom and a cdrom with an image before the disk, when parsed, then both cdroms are passed over', () => {
    expect(parseDomainXml(recorded('cdrom'), 'sl-xmlfix-cdrom').snapshotDisk).toEqual({
      path: `${DIR}/disk.qcow2`,
      kind: 'file',
      format: 'qcow2',
      target: 'vda',
    });
  });

  it('given two disks defined vdb first, when parsed, then vda is first (libvirt sorts disks by target)', () => {
    const xml = recorded('multi-disk');
    expect(xml.indexOf("dev='vda'")).toBeLessThan(xml.indexOf("dev='vdb'"));
    expect(parseDomainXml(xml, 'sl-xmlfix-multi').snapshotDisk).toEqual({
      path: `${DIR}/disk.qcow2`,
      kind: 'file',
      format: 'qcow2',
      target: 'vda',
    });
  });

  it('given a block device before a file disk, when parsed, then the block device is taken (it is vda)', () => {
    expect(parseDomainXml(recorded('block-then-file'), 'sl-xmlfix-block').snapshotDisk).toEqual({
      path: '/dev/sl-xmlfix-missing',
      kind: 'block',
      format: 'raw',
      target: 'vda',
    });
  });

  it('given only a block device, when parsed, then it is the disk, read from <source dev>', () => {
    const facts = parseDomainXml(recorded('block-only'), 'sl-xmlfix-blockonly');
    expect(facts.snapshotDisk).toEqual({
      path: '/dev/sl-xmlfix-missing',
      kind: 'block',
      format: 'raw',
      target: 'vda',
    });
    expect(facts.name).toBe('sl-xmlfix-blockonly');
  });

  it('given no disk at all, when parsed, then there is no file disk', () => {
    expect(parseDomainXml(recorded('no-disk'), 'sl-xmlfix-nodisk').snapshotDisk).toBeNull();
  });

  it.each(['no-driver-type', 'no-driver'])(
    'given a disk defined without a format (%s), when parsed, then it is raw: libvirt writes the default into the XML',
    (name) => {
      expect(parseDomainXml(recorded(name), name).snapshotDisk).toEqual({
        path: `${DIR}/disk.raw`,
        kind: 'file',
        format: 'raw',
        target: 'vda',
      });
    },
  );

  it('given a file disk with no <driver> (not something libvirt 9 writes), when parsed, then its format is null', () => {
    const xml = recorded('no-driver-type').replace("<driver name='qemu' type='raw'/>", '');
    expect(xml).not.toContain('<driver');
    expect(parseDomainXml(xml, 'sl-xmlfix-notype').snapshotDisk).toEqual({
      path: `${DIR}/disk.raw`,
      kind: 'file',
      format: null,
      target: 'vda',
    });
  });

  it('given a file disk whose <source> has no file (an empty slot), when parsed, then it is passed over', () => {
    const xml = recorded('multi-disk').replace(`<source file='${DIR}/disk.qcow2'/>`, '');
    expect(parseDomainXml(xml, 'sl-xmlfix-multi').snapshotDisk).toEqual({
      path: `${DIR}/data.raw`,
      kind: 'file',
      format: 'raw',
      target: 'vdb',
    });
  });

  it('given an upper-case uuid, when parsed, then it is lower-cased', () => {
    const xml = recorded('no-disk').replace(
      '11111111-0000-4000-8000-00000000000a',
      '11111111-0000-4000-8000-00000000000A',
    );
    expect(parseDomainXml(xml, 'x').uuid).toBe('11111111-0000-4000-8000-00000000000a');
  });

  it.each([
    ["<memory unit='GiB'>2</memory>", 2048],
    ["<memory unit='bytes'>134217728</memory>", 128],
    ["<memory unit='MB'>1000</memory>", 953],
    ['<memory>262144</memory>', 256],
  ])('given memory written as %s, when parsed, then it is %i MiB', (memory, mib) => {
    const xml = recorded('no-disk').replace("<memory unit='KiB'>131072</memory>", memory);
    expect(xml).toContain(memory);
    expect(parseDomainXml(xml, 'x').memoryMiB).toBe(mib);
  });
});

describe('parseDomainXml: the owner in the metadata', () => {
  const nova = recorded('qcow2-file');
  const NOVA_OWNER = {
    projectId: '8d0c3b2a1f4e4d5c9b8a7f6e5d4c3b2a',
    userId: '5e1a6f0c2d6b4f4e9b1c3a7d8e9f0a1b',
    source: 'nova',
  };

  it('given Nova metadata under another prefix, when parsed, then it is matched by namespace', () => {
    const xml = nova.replaceAll('nova:', 'n:').replace('xmlns:nova=', 'xmlns:n=');
    expect(xml).toContain('<n:owner>');
    expect(parseDomainXml(xml, 'x').owner).toEqual(NOVA_OWNER);
  });

  it("given a later 1.x of Nova's namespace, when parsed, then the owner is read", () => {
    const xml = nova.replace('libvirt/nova/1.1', 'libvirt/nova/1.2');
    expect(parseDomainXml(xml, 'x').owner).toEqual(NOVA_OWNER);
  });

  it('given a namespace that is not Nova 1.x, when parsed, then there is no owner', () => {
    const xml = nova.replace('libvirt/nova/1.1', 'libvirt/nova/2.0');
    expect(parseDomainXml(xml, 'x').owner).toBeNull();
  });

  it('given a Nova owner without a project uuid, when parsed, then there is no owner', () => {
    const xml = nova.replace(
      '<nova:project uuid="8d0c3b2a1f4e4d5c9b8a7f6e5d4c3b2a">',
      '<nova:project>',
    );
    expect(xml).toContain('<nova:project>demo');
    expect(parseDomainXml(xml, 'x').owner).toBeNull();
  });

  it("given both Nova and snapledger owners, when parsed, then Nova's wins", () => {
    const xml = nova.replace(
      '</metadata>',
      '<snapledger:owner xmlns:snapledger="https://snapledger.dev/xmlns/1" project="p" user="u"/></metadata>',
    );
    expect(parseDomainXml(xml, 'x').owner).toEqual(NOVA_OWNER);
  });

  it('given a snapledger owner without a user, when parsed, then there is no owner', () => {
    const xml = recorded('raw-file').replace(' user="user-raw"', '');
    expect(xml).not.toContain('user-raw');
    expect(parseDomainXml(xml, 'x').owner).toBeNull();
  });
});

describe('parseDomainXml on XML it cannot read', () => {
  it.each([
    ['empty output', ''],
    ["virsh's error text", "error: failed to get domain 'x'"],
    ['another document', '<network><name>default</name><uuid>1</uuid></network>'],
  ])('given %s, when parsed, then it reports no <domain> element', (_what, xml) => {
    expect(() => parseDomainXml(xml, 'web-1')).toThrow(
      'virsh dumpxml for web-1 returned no <domain> element',
    );
  });

  it('given output cut inside a closing tag, when parsed, then it throws', () => {
    const xml = recorded('qcow2-file');
    expect(() => parseDomainXml(xml.slice(0, xml.indexOf('</name>') + 3), 'web-1')).toThrow();
  });

  it('given stray markup after the document, when parsed, then it throws', () => {
    expect(() => parseDomainXml(`${recorded('no-disk')}<<<`, 'web-1')).toThrow();
  });

  it.each(['uuid', 'name'])('given no <%s>, when parsed, then it throws', (element) => {
    const xml = recorded('no-disk').replace(new RegExp(`<${element}>[^<]*</${element}>`), '');
    expect(xml).not.toContain(`<${element}>`);
    expect(() => parseDomainXml(xml, 'web-1')).toThrow('domain XML of web-1 has no uuid or name');
  });

  it('given memory in a unit libvirt does not define, when parsed, then it throws', () => {
    const xml = recorded('no-disk').replace(
      "<memory unit='KiB'>131072</memory>",
      "<memory unit='pages'>32</memory>",
    );
    expect(() => parseDomainXml(xml, 'web-1')).toThrow(
      'domain XML of web-1 has no readable <vcpu> or <memory>',
    );
  });

  it('given a vcpu count that is not a number, when parsed, then it throws', () => {
    const xml = recorded('no-disk').replace(
      "<vcpu placement='static'>1</vcpu>",
      "<vcpu placement='static'>one</vcpu>",
    );
    expect(xml).toContain('>one</vcpu>');
    expect(() => parseDomainXml(xml, 'web-1')).toThrow(
      'domain XML of web-1 has no readable <vcpu> or <memory>',
    );
  });
});

describe('mirrorsInto on recorded dumpxml', () => {
  const copying = recorded('block-copy-running');

  it('given a block copy of vda into the mirror file, when asked about that file, then it is found', () => {
    expect(mirrorsInto(copying, 'vda', `${DIR}/mirror.qcow2`)).toBe(true);
  });

  it('given the same copy, when asked about another destination or disk, then it is not ours', () => {
    expect(mirrorsInto(copying, 'vda', `${DIR}/other.qcow2`)).toBe(false);
    expect(mirrorsInto(copying, 'vdb', `${DIR}/mirror.qcow2`)).toBe(false);
  });

  it('given a mirror that names its file only in <source>, when asked, then it is found', () => {
    const xml = copying.replace(
      `<mirror type='file' file='${DIR}/mirror.qcow2'`,
      "<mirror type='file'",
    );
    expect(xml).not.toContain(`file='${DIR}/mirror.qcow2' format`);
    expect(mirrorsInto(xml, 'vda', `${DIR}/mirror.qcow2`)).toBe(true);
  });

  it('given the running domain before the copy, when asked, then there is no mirror', () => {
    expect(mirrorsInto(recorded('backing-chain-running'), 'vda', `${DIR}/mirror.qcow2`)).toBe(
      false,
    );
  });

  it('given output with no <domain>, when asked, then there is no mirror', () => {
    expect(mirrorsInto('', 'vda', `${DIR}/mirror.qcow2`)).toBe(false);
  });
});
