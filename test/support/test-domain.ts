/**
 * Real libvirt domains for integration tests.
 *
 * A test domain is a persistent QEMU domain with no OS: 128 MiB, 1 vCPU, a qcow2 disk on
 * virtio whose first `dataMiB` hold a deterministic pseudo-random pattern, no network, no
 * graphics, a serial console appended to a file (`consolePath`). SeaBIOS finds no boot sector
 * (the pattern's boot signature is cleared) and idles, so the guest never writes to its disk
 * and the disk content can be verified at any time against `expectedDataHash`. With
 * `bootWriter`, the guest runs BOOT_WRITER_SOURCE instead: it writes to its disk once a second
 * and a progress byte to its serial console at every BIOS timer tick.
 *
 * Everything runs through execa with argument arrays.
 */
import { createCipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  access,
  chmod,
  mkdir,
  mkdtemp,
  open,
  readFile,
  rm,
  rmdir,
  writeFile,
} from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export const TEST_LIBVIRT_URI = process.env['SNAPLEDGER_TEST_LIBVIRT_URI'] ?? 'qemu:///system';
export const TEST_ROOT = '/var/tmp/snapledger-test';
export const TEST_DOMAIN_PREFIX = 'sl-test-';

/**
 * The start of the names of this process's test domains. Inside a Vitest worker it carries
 * the worker's pool id (`sl-test-w2-`), and test/support/worker-domain-scope.ts narrows the
 * services this worker starts to those names (SNAPLEDGER_DOMAINS): two files run side by
 * side without either's services registering the other's domains.
 */
export function workerDomainPrefix(): string {
  const poolId = process.env['VITEST_POOL_ID'];
  return poolId ? `${TEST_DOMAIN_PREFIX}w${poolId}-` : TEST_DOMAIN_PREFIX;
}

const NOVA_NS = 'http://openstack.org/xmlns/libvirt/nova/1.1';
const SNAPLEDGER_NS = 'https://snapledger.dev/xmlns/1';
const MiB = 1024 * 1024;
const VIRSH_TIMEOUT_MS = 120_000;
const QEMU_IMG_TIMEOUT_MS = 120_000;

export interface ImageRef {
  readonly path: string;
  readonly format: string;
}

export interface TestDomainOwner {
  readonly projectId: string;
  readonly userId: string;
  readonly via: 'nova' | 'snapledger';
}

export interface CreateTestDomainOptions {
  /** A short label, [a-z0-9-]; the domain is named `<workerDomainPrefix()><label>-<random>`. */
  readonly name?: string;
  /** Virtual size of the qcow2 disk. Default 64. */
  readonly diskMiB?: number;
  /** How many leading MiB hold the pattern. Default 8. */
  readonly dataMiB?: number;
  readonly owner?: TestDomainOwner;
  /** Start the domain after defining it. Default false. */
  readonly start?: boolean;
  /** Start it paused (implies start). */
  readonly paused?: boolean;
  /**
   * Install the boot-writer boot sector (BOOT_WRITER_SOURCE): the guest then writes a counter
   * to sector BOOT_WRITER_LBA once a second, outside a pattern of up to 48 MiB (needs
   * diskMiB > 48), and one byte to its serial console (`consolePath`) at every BIOS timer tick
   * (about 55 ms). The first 512 bytes of the pattern become the boot sector
   * (expectedDataHash includes it).
   */
  readonly bootWriter?: boolean;
  readonly uri?: string;
  /**
   * The disk: a qcow2 file (default), a raw file, or a raw file attached to a loop device
   * that the domain uses as `<disk type='block'>` (detached again by destroy()).
   */
  readonly disk?: 'qcow2' | 'raw' | 'block';
  /**
   * Name it `sl-test-outside-<label>-<random>`: outside every worker's SNAPLEDGER_DOMAINS, so
   * that no test service treats it as an instance.
   */
  readonly outsideWorkerScope?: boolean;
}

export interface TestDomain {
  readonly name: string;
  readonly uuid: string;
  readonly uri: string;
  readonly workDir: string;
  /** The disk's file, or its loop device for a `block` disk. */
  readonly diskPath: string;
  readonly diskFormat: 'qcow2' | 'raw';
  readonly diskMiB: number;
  readonly dataMiB: number;
  /**
   * The serial console's log file (append='on', so a restore does not truncate it). It grows
   * by one byte per BIOS timer tick while a `bootWriter` guest runs.
   */
  readonly consolePath: string;
  /** 'kvm' when /dev/kvm works for QEMU here, else 'qemu' (TCG). */
  readonly virtType: 'kvm' | 'qemu';
  /** sha256 (hex) of the first dataMiB of the guest disk as created. */
  readonly expectedDataHash: string;
  /** `virsh domstate`, e.g. 'running', 'paused', 'shut off'. */
  state(): Promise<string>;
  /** sha256 (hex) of the first dataMiB of the guest-visible content of an image (default: this disk). */
  sha256OfGuestData(path?: string, format?: string): Promise<string>;
  /** Runs `virsh -c <uri> <command> --domain <uuid> ...args` and returns stdout. */
  virsh(command: string, ...args: string[]): Promise<string>;
  /** Destroys (if active) and undefines the domain with its managed save, and removes workDir. Idempotent. */
  destroy(): Promise<void>;
}

/** Runs virsh with an argument array, in the C locale, with a timeout; returns stdout. */
export async function runVirsh(
  uri: string,
  args: readonly string[],
  timeoutMs = VIRSH_TIMEOUT_MS,
): Promise<string> {
  const { stdout } = await execa('virsh', ['-q', '-c', uri, ...args], {
    timeout: timeoutMs,
    stdin: 'ignore',
    env: { LC_ALL: 'C', LANG: 'C' },
  });
  return stdout;
}

/** The deterministic pattern: AES-256-CTR keystream keyed by sha256(seed), with the MBR signature cleared. */
export function patternData(seed: string, bytes: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const data = Buffer.concat([cipher.update(Buffer.alloc(bytes)), cipher.final()]);
  // Never a valid boot sector (0x55 0xAA at 510): SeaBIOS must not run random bytes as code.
  if (data.length >= 512) data.fill(0, 510, 512);
  return data;
}

/** The sector the boot writer rewrites once a second: "SLWR" and a growing 32-bit counter. */
export const BOOT_WRITER_LBA = 98304;

/**
 * The boot writer's source (GNU as, 16-bit real mode). BOOT_WRITER_BASE64 is what
 * `assembleBootWriter()` makes of it; it supersedes test/fixtures/boot-writer, which only
 * wrote the disk.
 */
export const BOOT_WRITER_SOURCE = `# A 512-byte boot sector for test domains. At every BIOS timer tick (about 55 ms) the guest
# writes one progress byte to its serial console (COM1): "." at most ticks, a newline at each
# 18th tick, when it also writes to its own disk (about once a second). Sector WRITE_LBA gets
# "SLWR" followed by a 32-bit counter that grows with every disk write, so a test can see that
# the guest wrote during a snapshot, and what it had written by then; the serial log shows
# when the guest ran (a paused guest writes nothing).
# BIOS services only: int 13h AH=43h (extended write, LBA) and the tick count at 0040:006C.
# Between ticks the guest halts until the next interrupt.
# Build: as --32 -o boot-writer.o boot-writer.S
#        ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o boot-writer.bin boot-writer.o
        .code16
        .set WRITE_LBA, 98304          # 48 MiB into the disk: past a small test pattern
        .set BUFFER, 0x8000
        .set TICKS, 0x46c              # BIOS tick count (0040:006C), 18.2 a second
        .set COM1, 0x3f8               # transmit register of the first serial port
        .set TICKS_PER_WRITE, 18
        .globl _start
_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7c00, %sp
        sti
        mov     %dl, drive             # the BIOS passes the boot drive in DL
        movl    $0x52574c53, BUFFER    # "SLWR"
        movl    $0, BUFFER+4
tick:
        mov     TICKS, %bx
wait:
        hlt                            # until the next interrupt
        cmp     TICKS, %bx
        je      wait
        mov     $0x2e, %al             # "."
        decb    countdown
        jnz     mark
        movb    $TICKS_PER_WRITE, countdown
        incl    BUFFER+4
        mov     $0x43, %ah             # extended write
        xor     %al, %al               # no verify
        mov     drive, %dl
        mov     $dap, %si
        int     $0x13
        mov     $0x0a, %al             # newline: the disk was written at this tick
mark:
        mov     $COM1, %dx
        out     %al, %dx
        jmp     tick
drive:  .byte   0x80
countdown:
        .byte   1                      # the first tick writes the disk
        .balign 4
dap:    .byte   0x10, 0                # size of the packet, reserved
        .word   1                      # sectors
        .word   BUFFER, 0              # buffer offset, segment
        .quad   WRITE_LBA
        .org    510
        .byte   0x55, 0xaa
`;

/** BOOT_WRITER_SOURCE assembled (`assembleBootWriter()`), in base64 up to its last non-zero byte. */
const BOOT_WRITER_BASE64 =
  '+jHAjtiOwI7QvAB8+4gWVXxmxwYAgFNMV1JmxwYEgAAAAACLHmwE9DsebAR0+bAu/g5WfHUZxgZWfBJm/wYEgLRDMMCK' +
  'FlV8vlh8zROwCrr4A+7rzoABkBAAAQAAgAAAAIAB';

function bootWriterSector(): Buffer {
  const code = Buffer.from(BOOT_WRITER_BASE64, 'base64');
  const sector = Buffer.alloc(512);
  code.copy(sector);
  sector.writeUInt16LE(0xaa55, 510);
  return sector;
}

/**
 * Assembles BOOT_WRITER_SOURCE with GNU as and ld (binutils), for checking BOOT_WRITER_BASE64
 * after a change of the source: the result must equal the sector that createTestDomain installs.
 */
export async function assembleBootWriter(): Promise<{ assembled: Buffer; installed: Buffer }> {
  const tempDir = await mkdtemp(join(tmpdir(), 'bootwriter-as-'));
  try {
    const [source, object, binary] = ['boot-writer.S', 'boot-writer.o', 'boot-writer.bin'].map(
      (f) => join(tempDir, f),
    );
    await writeFile(source, BOOT_WRITER_SOURCE);
    await execa('as', ['--32', '-o', object, source], { timeout: 30_000, stdin: 'ignore' });
    await execa(
      'ld',
      ['-m', 'elf_i386', '-Ttext', '0x7c00', '--oformat', 'binary', '-o', binary, object],
      { timeout: 30_000, stdin: 'ignore' },
    );
    return { assembled: await readFile(binary), installed: bootWriterSector() };
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

/**
 * The boot writer's counter in an image (read with -U, so a running domain's disk works), or
 * null when the guest never wrote its sector.
 */
export async function bootWriterCounter(image: ImageRef): Promise<number | null> {
  const tempDir = await mkdtemp(join(tmpdir(), 'bootwriter-'));
  try {
    const rawPath = join(tempDir, 'content.raw');
    await qemuImg(['convert', '-U', '-f', image.format, '-O', 'raw', '--', image.path, rawPath]);
    const handle = await open(rawPath, 'r');
    try {
      const sector = Buffer.alloc(512);
      await handle.read(sector, 0, 512, BOOT_WRITER_LBA * 512);
      return sector.toString('latin1', 0, 4) === 'SLWR' ? sector.readUInt32LE(4) : null;
    } finally {
      await handle.close();
    }
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

let virtTypeProbe: Promise<'kvm' | 'qemu'> | undefined;

/** 'kvm' when libvirt reports KVM usable (and SNAPLEDGER_TEST_VIRT_TYPE does not say otherwise), else 'qemu'. */
export function testVirtType(uri = TEST_LIBVIRT_URI): Promise<'kvm' | 'qemu'> {
  const forced = process.env['SNAPLEDGER_TEST_VIRT_TYPE'];
  if (forced === 'kvm' || forced === 'qemu') return Promise.resolve(forced);
  virtTypeProbe ??= (async () => {
    try {
      await access('/dev/kvm', constants.R_OK | constants.W_OK);
      await runVirsh(uri, ['domcapabilities', '--virttype', 'kvm'], 30_000);
      return 'kvm' as const;
    } catch {
      return 'qemu' as const;
    }
  })();
  return virtTypeProbe;
}

export async function createTestDomain(options: CreateTestDomainOptions = {}): Promise<TestDomain> {
  const uri = options.uri ?? TEST_LIBVIRT_URI;
  const diskMiB = options.diskMiB ?? 64;
  const dataMiB = options.dataMiB ?? 8;
  if (
    !Number.isInteger(diskMiB) ||
    !Number.isInteger(dataMiB) ||
    dataMiB < 1 ||
    dataMiB > diskMiB
  ) {
    throw new Error(
      `createTestDomain: need integers 1 <= dataMiB (${dataMiB}) <= diskMiB (${diskMiB})`,
    );
  }
  const label = options.name ?? 'vm';
  if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(label))
    throw new Error(`createTestDomain: bad name label ${label}`);
  const prefix = options.outsideWorkerScope
    ? `${TEST_DOMAIN_PREFIX}outside-`
    : workerDomainPrefix();
  const name = `${prefix}${label}-${randomBytes(4).toString('hex')}`;
  const uuid = randomUUID();
  const virtType = await testVirtType(uri);

  const workDir = await makeWorkDir();

  const diskKind = options.disk ?? 'qcow2';
  const diskFormat = diskKind === 'qcow2' ? 'qcow2' : 'raw';
  const diskFile = join(workDir, `disk.${diskFormat}`);
  // A block disk is the raw file on a loop device of its own, attached here.
  const diskPath =
    diskKind === 'block'
      ? await attachLoopDevice(diskFile, diskMiB).catch(async (error: unknown) => {
          await rm(workDir, { recursive: true, force: true });
          throw error;
        })
      : diskFile;
  const consolePath = join(workDir, 'console.log');
  const domain = makeHandle({
    name,
    uuid,
    uri,
    workDir,
    diskPath,
    diskFormat,
    loopDevice: diskKind === 'block' ? diskPath : null,
    diskMiB,
    dataMiB,
    consolePath,
    virtType,
    expectedDataHash: '',
  });

  try {
    const data = patternData(uuid, dataMiB * MiB);
    if (options.bootWriter) {
      if (diskMiB * 2048 <= BOOT_WRITER_LBA)
        throw new Error('createTestDomain: bootWriter needs diskMiB > 48');
      bootWriterSector().copy(data, 0);
    }
    const expectedDataHash = createHash('sha256').update(data).digest('hex');
    if (diskFormat === 'raw') {
      // The file (or the loop device over it) holds the pattern, then zeros.
      await writeFile(diskPath, data);
    } else {
      const rawPath = join(workDir, 'pattern.raw');
      await writeFile(rawPath, data, { mode: 0o600 });
      await execa('truncate', ['-s', `${diskMiB}M`, '--', rawPath], { timeout: 30_000 });
      await qemuImg(['convert', '-f', 'raw', '-O', 'qcow2', '--', rawPath, diskPath]);
      await rm(rawPath, { force: true });
    }

    const xmlPath = join(workDir, 'domain.xml');
    await writeFile(
      xmlPath,
      domainXml({
        name,
        uuid,
        virtType,
        diskPath,
        diskKind: diskKind === 'block' ? 'block' : 'file',
        diskFormat,
        consolePath,
        owner: options.owner,
      }),
      { mode: 0o600 },
    );
    await runVirsh(uri, ['define', '--file', xmlPath]);

    if (options.start || options.paused) {
      await runVirsh(
        uri,
        options.paused ? ['start', '--domain', uuid, '--paused'] : ['start', '--domain', uuid],
      );
    }
    return { ...domain, expectedDataHash };
  } catch (error) {
    await domain.destroy().catch(() => undefined);
    throw error;
  }
}

/** Creates a sparse file of `MiB` and attaches it to a free loop device; returns the device. */
async function attachLoopDevice(file: string, mib: number): Promise<string> {
  await execa('truncate', ['-s', `${mib}M`, '--', file], { timeout: 30_000 });
  const { stdout } = await execa('losetup', ['--find', '--show', '--', file], { timeout: 30_000 });
  const device = stdout.trim();
  if (!/^\/dev\/loop\d+$/.test(device)) throw new Error(`losetup gave "${device}"`);
  return device;
}

/** Detaches a loop device this harness attached (only ever one of ours, by its path). */
async function detachLoopDevice(device: string): Promise<void> {
  await execa('losetup', ['--detach', device], { timeout: 30_000, reject: false });
}

/**
 * A fresh work dir under TEST_ROOT. Every directory we create on the way to the disk must be
 * traversable by libvirt-qemu (0711). Another test's destroy() may remove an empty TEST_ROOT
 * between our mkdir and mkdtemp: retry.
 */
async function makeWorkDir(): Promise<string> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await mkdir(TEST_ROOT, { recursive: true });
      await chmod(TEST_ROOT, 0o711);
      const workDir = await mkdtemp(join(TEST_ROOT, 'd-'));
      await chmod(workDir, 0o711);
      return workDir;
    } catch (error) {
      if (attempt >= 5 || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** rmdir, so it only succeeds when no other test domain still has a work dir there. */
async function removeTestRootIfEmpty(): Promise<void> {
  try {
    await rmdir(TEST_ROOT);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT' && code !== 'EBUSY')
      throw error;
  }
}

interface HandleFields {
  readonly name: string;
  readonly uuid: string;
  readonly uri: string;
  readonly workDir: string;
  readonly diskPath: string;
  readonly diskFormat: 'qcow2' | 'raw';
  /** The loop device a block disk is on, detached by destroy(); null for a file disk. */
  readonly loopDevice: string | null;
  readonly diskMiB: number;
  readonly dataMiB: number;
  readonly consolePath: string;
  readonly virtType: 'kvm' | 'qemu';
  readonly expectedDataHash: string;
}

function makeHandle(fields: HandleFields): TestDomain {
  const { uri, uuid, workDir, diskPath, diskFormat, loopDevice, dataMiB } = fields;
  return {
    ...fields,
    async state() {
      return (await runVirsh(uri, ['domstate', '--domain', uuid], 30_000)).trim();
    },
    async sha256OfGuestData(path = diskPath, format: string = diskFormat) {
      return sha256OfImageData({ path, format }, dataMiB * MiB, workDir);
    },
    async virsh(command: string, ...args: string[]) {
      return runVirsh(uri, [command, '--domain', uuid, ...args]);
    },
    async destroy() {
      await removeDomain(uri, uuid);
      if (loopDevice) await detachLoopDevice(loopDevice);
      await rm(workDir, { recursive: true, force: true });
      await removeTestRootIfEmpty();
    },
  };
}

/**
 * sha256 (hex) of the first `bytes` of an image's guest-visible content: the image is
 * converted to raw (with -U, so a running domain's disk can be read) in a temp dir and hashed.
 */
export async function sha256OfImageData(
  image: ImageRef,
  bytes: number,
  tempParent = tmpdir(),
): Promise<string> {
  const tempDir = await mkdtemp(join(tempParent, 'hash-'));
  try {
    const rawPath = join(tempDir, 'content.raw');
    await qemuImg(['convert', '-U', '-f', image.format, '-O', 'raw', '--', image.path, rawPath]);
    const hash = createHash('sha256');
    let seen = 0;
    for await (const chunk of createReadStream(rawPath, { start: 0, end: bytes - 1 })) {
      hash.update(chunk as Buffer);
      seen += (chunk as Buffer).length;
    }
    if (seen !== bytes)
      throw new Error(`${image.path}: guest content is ${seen} bytes, expected at least ${bytes}`);
    return hash.digest('hex');
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

/**
 * `qemu-img compare`: true when both images have the same guest-visible content (exit 0),
 * false when they differ (exit 1). By default a larger image whose extra area is zero counts
 * as the same; `sameSize` also requires equal virtual sizes. (qemu-img's own `-s` is not used:
 * it also compares allocation, which a conversion legitimately changes.)
 */
export async function imagesHaveSameContent(
  a: ImageRef,
  b: ImageRef,
  options: { sameSize?: boolean } = {},
): Promise<boolean> {
  if (options.sameSize && (await virtualSize(a)) !== (await virtualSize(b))) return false;
  const result = await execa(
    'qemu-img',
    ['compare', '-U', '-f', a.format, '-F', b.format, '--', a.path, b.path],
    {
      timeout: QEMU_IMG_TIMEOUT_MS,
      reject: false,
      stdin: 'ignore',
    },
  );
  if (result.exitCode === 0) return true;
  if (result.exitCode === 1) return false;
  throw new Error(
    `qemu-img compare ${a.path} ${b.path} failed (exit ${result.exitCode}): ${result.stderr}`,
  );
}

async function virtualSize(image: ImageRef): Promise<number> {
  const { stdout } = await execa(
    'qemu-img',
    ['info', '--output=json', '-U', '-f', image.format, '--', image.path],
    {
      timeout: QEMU_IMG_TIMEOUT_MS,
      stdin: 'ignore',
    },
  );
  return (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'];
}

/** Removes every domain named sl-test-* (leftovers of crashed runs) and, by default, TEST_ROOT. */
export async function cleanupAllTestDomains(
  options: { uri?: string; removeWorkDirs?: boolean } = {},
): Promise<string[]> {
  const uri = options.uri ?? TEST_LIBVIRT_URI;
  const names = (await runVirsh(uri, ['list', '--all', '--name'], 30_000))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith(TEST_DOMAIN_PREFIX));
  for (const name of names) await removeDomain(uri, name);
  // Loop devices of block-disk test domains: only those over files under TEST_ROOT.
  const { stdout } = await execa('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE'], {
    timeout: 30_000,
    reject: false,
  });
  const loops = stdout
    ? ((JSON.parse(stdout) as { loopdevices?: { name: string; 'back-file': string | null }[] })
        .loopdevices ?? [])
    : [];
  for (const loop of loops) {
    if (loop['back-file']?.startsWith(`${TEST_ROOT}/`)) await detachLoopDevice(loop.name);
  }
  if (options.removeWorkDirs ?? true) await rm(TEST_ROOT, { recursive: true, force: true });
  return names;
}

/** destroy (if active) + undefine with managed save and metadata; absent domains are fine. Retries busy domains. */
async function removeDomain(uri: string, domain: string): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await ignoreFailures(
        runVirsh(uri, ['destroy', '--domain', domain], 60_000),
        /domain is not running|failed to get domain|domain not found/i,
      );
      await ignoreFailures(
        runVirsh(uri, [
          'undefine',
          '--domain',
          domain,
          '--managed-save',
          '--snapshots-metadata',
          '--checkpoints-metadata',
          '--nvram',
        ]),
        /failed to get domain|domain not found/i,
      );
      return;
    } catch (error) {
      // A job may still hold the domain (e.g. a managedsave of a timed-out test).
      if (
        attempt >= 10 ||
        !/state change lock|Timed out during operation|domain is already active/i.test(
          stderrOf(error),
        )
      ) {
        throw error;
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

async function ignoreFailures(run: Promise<unknown>, ignorable: RegExp): Promise<void> {
  try {
    await run;
  } catch (error) {
    if (!ignorable.test(stderrOf(error))) throw error;
  }
}

function stderrOf(error: unknown): string {
  const stderr = (error as { stderr?: unknown } | null)?.stderr;
  return typeof stderr === 'string' ? stderr : String(error);
}

async function qemuImg(args: readonly string[]): Promise<void> {
  await execa('qemu-img', args, { timeout: QEMU_IMG_TIMEOUT_MS, stdin: 'ignore' });
}

function escapeXml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function ownerXml(owner: TestDomainOwner | undefined, name: string): string {
  if (!owner) return '';
  const project = escapeXml(owner.projectId);
  const user = escapeXml(owner.userId);
  if (owner.via === 'snapledger') {
    return `
  <metadata>
    <snapledger:owner xmlns:snapledger="${SNAPLEDGER_NS}" project="${project}" user="${user}"/>
  </metadata>`;
  }
  // The shape Nova's libvirt driver writes (nova/virt/libvirt/config.py, LibvirtConfigGuestMetaNova*).
  return `
  <metadata>
    <nova:instance xmlns:nova="${NOVA_NS}">
      <nova:package version="snapledger-test"/>
      <nova:name>${escapeXml(name)}</nova:name>
      <nova:creationTime>2024-01-01 00:00:00</nova:creationTime>
      <nova:flavor name="m1.tiny">
        <nova:memory>128</nova:memory>
        <nova:disk>1</nova:disk>
        <nova:swap>0</nova:swap>
        <nova:ephemeral>0</nova:ephemeral>
        <nova:vcpus>1</nova:vcpus>
      </nova:flavor>
      <nova:owner>
        <nova:user uuid="${user}">test-user</nova:user>
        <nova:project uuid="${project}">test-project</nova:project>
      </nova:owner>
    </nova:instance>
  </metadata>`;
}

function domainXml(spec: {
  name: string;
  uuid: string;
  virtType: 'kvm' | 'qemu';
  diskPath: string;
  diskKind: 'file' | 'block';
  diskFormat: 'qcow2' | 'raw';
  consolePath: string;
  owner: TestDomainOwner | undefined;
}): string {
  const disk = escapeXml(spec.diskPath);
  const consolePath = escapeXml(spec.consolePath);
  return `<domain type='${spec.virtType}'>
  <name>${escapeXml(spec.name)}</name>
  <uuid>${spec.uuid}</uuid>${ownerXml(spec.owner, spec.name)}
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='${spec.diskKind}' device='disk'>
      <driver name='qemu' type='${spec.diskFormat}'/>
      <source ${spec.diskKind === 'file' ? 'file' : 'dev'}='${disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='${consolePath}' append='on'/>
      <target port='0'/>
    </serial>
    <console type='file'>
      <source path='${consolePath}' append='on'/>
      <target type='serial' port='0'/>
    </console>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}
