/**
 * Writing to a running test domain's disk as its guest would, and reading the disk as it is.
 * The test domains have no OS: writes go through QEMU's own block layer (HMP `qemu-io` on
 * the virtio disk), so libvirt's checkpoint bitmaps see them as they see a guest's writes.
 */
import { execa } from 'execa';
import type { TestDomain } from './test-domain';

/** `qemu-io` commands run on the domain's virtio disk inside its QEMU. */
async function qemuIo(domain: TestDomain, command: string): Promise<void> {
  await domain.virsh(
    'qemu-monitor-command',
    '--hmp',
    `qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "${command}"`,
  );
}

/**
 * Writes `lengthMiB` MiB of the byte `pattern` at `offsetMiB` through the running QEMU, then
 * flushes: QEMU keeps qcow2 metadata in memory, and a reader of the file (qemu-img -U) must
 * see what was written.
 */
export async function writeThroughQemu(
  domain: TestDomain,
  pattern: number,
  offsetMiB: number,
  lengthMiB: number,
): Promise<void> {
  await qemuIo(domain, `write -P ${pattern} ${offsetMiB}M ${lengthMiB}M`);
  await qemuIo(domain, 'flush');
}

/** A copy of the domain's disk as it is now (read with -U while QEMU holds it), as qcow2. */
export async function copyDiskAsItIs(domain: TestDomain, target: string): Promise<void> {
  await execa('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'qcow2', domain.diskPath, target]);
}
