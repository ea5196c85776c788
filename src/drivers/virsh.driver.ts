import { isAbsolute } from 'node:path';
import { execa } from 'execa';
import { XMLParser } from 'fast-xml-parser';
import {
  DomainNotFoundError,
  DomainStateError,
  TransientHypervisorError,
  type DomainDetails,
  type DomainDisk,
  type DomainOwner,
  type DomainSummary,
  type Hypervisor,
  type LibvirtDomainState,
  type MirrorOptions,
} from './hypervisor.port';

export interface VirshHypervisorOptions {
  /** Timeout of the long operations (start/restore). Default 120 s. */
  readonly timeoutMs?: number;
  /** Timeout of managedsave. Default 1 h (never less than timeoutMs). */
  readonly saveTimeoutMs?: number;
  /** Timeout of queries and of suspend/resume. Default 30 s (never more than timeoutMs). */
  readonly queryTimeoutMs?: number;
}

const DEFAULT_LONG_TIMEOUT_MS = 120_000;
/**
 * managedsave writes all guest memory; killing virsh does not stop libvirtd's save job, which
 * would then finish unseen. So the wait is long: an hour by default.
 */
const DEFAULT_SAVE_TIMEOUT_MS = 3_600_000;
const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

/**
 * How long a state read by describe() or state() may stand in for managedSave's own check
 * (the saga reads the domain's state just before it saves it). See `recentState`.
 */
const RECENT_STATE_MS = 1_000;

const LIBVIRT_STATES: ReadonlySet<string> = new Set<LibvirtDomainState>([
  'running',
  'idle',
  'paused',
  'in shutdown',
  'shut off',
  'crashed',
  'pmsuspended',
  'no state',
]);

/** Older virsh versions print "blocked" for VIR_DOMAIN_BLOCKED and "shutdown" for in-shutdown. */
const STATE_ALIASES: Readonly<Record<string, LibvirtDomainState>> = {
  blocked: 'idle',
  shutdown: 'in shutdown',
  shutoff: 'shut off',
  dying: 'in shutdown',
};

/** Messages of failures that may go away by themselves: connection problems, a busy domain. */
const TRANSIENT_PATTERNS: readonly RegExp[] = [
  /failed to connect to the hypervisor/i,
  /cannot recv data/i,
  /cannot send data/i,
  /end of file while reading data/i,
  /connection reset/i,
  /broken pipe/i,
  /failed to connect socket/i,
  /no connection driver available/i,
  /cannot acquire state change lock/i,
  /timed out during operation/i,
  /client socket is closed/i,
];

const NOT_FOUND_PATTERNS: readonly RegExp[] = [/failed to get domain/i, /domain not found/i];

const NOVA_NS = /^http:\/\/openstack\.org\/xmlns\/libvirt\/nova\/1\.\d+$/;
const SNAPLEDGER_NS = 'https://snapledger.dev/xmlns/1';

const ATTR = '@_';

interface VirshResult {
  readonly stdout: string;
  readonly stderr: string;
}

interface DomInfo {
  readonly state: LibvirtDomainState;
  readonly hasManagedSave: boolean;
  readonly persistent: boolean;
}

/**
 * The Hypervisor port over `virsh -c <uri>`. Every call is an argument array with a timeout;
 * the domain is always passed as `--domain <value>`, so a value starting with '-' is never
 * read as an option. Every action checks the domain's state first and does nothing when the
 * goal already holds; an action that fails because the state changed under it is re-checked.
 * Each virsh process costs tens of milliseconds, and on a cold snapshot they add to the
 * domain's downtime, so no reading is made that cannot change what is done: managedSave
 * acts on a state read within the last second (the saga reads it just before it saves), and
 * start() first just starts (libvirt refuses to start a domain that is up; only then is its
 * state read). "Nothing to do" is only ever concluded from a fresh reading.
 */
export class VirshHypervisor implements Hypervisor {
  private readonly longTimeoutMs: number;
  private readonly saveTimeoutMs: number;
  private readonly queryTimeoutMs: number;
  /** The last state read of each domain (by the name it was asked for), and when. */
  private readonly lastRead = new Map<string, { readonly info: DomInfo; readonly at: number }>();
  private readonly parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: ATTR,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    processEntities: true,
    // Every element is an array, so repeated and single elements read the same way.
    isArray: (_name, _jpath, _isLeaf, isAttribute) => !isAttribute,
  });

  constructor(
    private readonly uri: string,
    options: VirshHypervisorOptions = {},
  ) {
    if (!uri || uri.startsWith('-')) throw new Error(`invalid libvirt URI: ${JSON.stringify(uri)}`);
    this.longTimeoutMs = options.timeoutMs ?? DEFAULT_LONG_TIMEOUT_MS;
    this.saveTimeoutMs = Math.max(
      options.saveTimeoutMs ?? DEFAULT_SAVE_TIMEOUT_MS,
      this.longTimeoutMs,
    );
    this.queryTimeoutMs = Math.min(
      options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
      this.longTimeoutMs,
    );
  }

  async listDomains(): Promise<DomainSummary[]> {
    const { stdout } = await this.virsh(['list', '--all', '--uuid', '--name'], this.queryTimeoutMs);
    const domains: DomainSummary[] = [];
    for (const line of stdout.split('\n')) {
      const trimmed = line.trim();
      if (!trimmed) continue;
      const match = /^([0-9a-fA-F-]{36})\s+(.+)$/.exec(trimmed);
      if (!match) throw new Error(`unexpected line from virsh list: ${JSON.stringify(line)}`);
      domains.push({ uuid: match[1].toLowerCase(), name: match[2] });
    }
    return domains;
  }

  /** `virsh uri` opens the connection and prints its URI: enough to know libvirtd answers. */
  async ping(timeoutMs: number): Promise<void> {
    await this.virsh(['uri'], Math.min(timeoutMs, this.queryTimeoutMs));
  }

  async describe(domain: string): Promise<DomainDetails> {
    const [xml, info] = await Promise.all([
      this.virsh(['dumpxml', '--domain', domain], this.queryTimeoutMs, domain),
      this.domInfo(domain),
    ]);
    return { ...this.parseDomainXml(xml.stdout, domain), ...info };
  }

  async state(domain: string): Promise<{ state: LibvirtDomainState; hasManagedSave: boolean }> {
    const { state, hasManagedSave } = await this.domInfo(domain);
    return { state, hasManagedSave };
  }

  async managedSave(domain: string): Promise<void> {
    // A domain read as up moments ago is saved without reading it again; if it went down
    // meanwhile, managedsave fails and the next attempt reads it afresh.
    const recent = this.recentState(domain);
    const first = recent !== null && isUp(recent.state) ? recent : null;
    for (let attempt = first ? -1 : 0; ; attempt += 1) {
      const { state, hasManagedSave } = attempt < 0 && first ? first : await this.state(domain);
      switch (state) {
        case 'shut off':
          if (hasManagedSave) return; // already saved
          throw new DomainStateError(
            `domain ${domain} is shut off with no managed-save image: nothing to save`,
          );
        case 'running':
        case 'idle':
        case 'paused':
          break;
        case 'in shutdown':
        case 'no state':
          throw new TransientHypervisorError(
            `cannot managedsave domain ${domain} while it is '${state}'`,
          );
        default:
          throw new Error(`cannot managedsave domain ${domain} in state '${state}'`);
      }
      try {
        await this.act(domain, ['managedsave', '--domain', domain], this.saveTimeoutMs);
        return;
      } catch (error) {
        // The state may have changed between the check and the act (another save, a shutdown).
        if (attempt < 2 && isStateRace(error)) continue;
        throw error;
      }
    }
  }

  async start(domain: string, options: { paused: boolean }): Promise<void> {
    // Attempt -1 just starts: the usual case is a saved (shut-off) domain, and libvirt refuses
    // to start one that is up. Only then is the state read, to suspend, resume or leave it.
    for (let attempt = -1; ; attempt += 1) {
      const state = attempt < 0 ? 'shut off' : (await this.state(domain)).state;
      try {
        switch (state) {
          case 'running':
          case 'idle':
            if (options.paused)
              await this.act(domain, ['suspend', '--domain', domain], this.queryTimeoutMs);
            return;
          case 'paused':
            if (!options.paused)
              await this.act(domain, ['resume', '--domain', domain], this.queryTimeoutMs);
            return;
          case 'shut off': {
            const args = ['start', '--domain', domain];
            if (options.paused) args.push('--paused');
            await this.act(domain, args, this.longTimeoutMs);
            // A managed-save image of a paused domain restores paused even without --paused.
            if (!options.paused) {
              const after = await this.state(domain);
              if (after.state === 'paused') {
                await this.act(domain, ['resume', '--domain', domain], this.queryTimeoutMs);
              }
            }
            return;
          }
          case 'in shutdown':
          case 'no state':
            throw new TransientHypervisorError(
              `cannot start domain ${domain} while it is '${state}'`,
            );
          default:
            throw new Error(`cannot start domain ${domain} in state '${state}'`);
        }
      } catch (error) {
        if (attempt < 2 && isStateRace(error)) continue;
        throw error;
      }
    }
  }

  async mirrorDisk(domain: string, options: MirrorOptions): Promise<void> {
    const { target, destination } = options;
    requireTarget(target);
    if (!isAbsolute(destination)) throw new Error(`mirror destination must be absolute`);
    const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
    const bandwidth =
      options.bandwidthMiB !== undefined &&
      Number.isInteger(options.bandwidthMiB) &&
      options.bandwidthMiB > 0
        ? ['--bandwidth', String(options.bandwidthMiB)]
        : [];
    try {
      await this.virsh(
        [
          'blockcopy',
          '--domain',
          domain,
          '--path',
          target,
          '--dest',
          destination,
          '--format',
          'qcow2',
          '--shallow',
          '--reuse-external',
          // A persistent domain refuses a block copy unless the job is transient.
          '--transient-job',
          '--wait',
          // Ends the job once mirrored, without pivoting: the guest stays on its own disk.
          '--finish',
          // virsh aborts the job itself at this timeout; execa's timeout is the backstop.
          '--timeout',
          String(seconds),
          ...bandwidth,
        ],
        options.timeoutMs + this.queryTimeoutMs,
        domain,
      );
    } catch (error) {
      await this.abortMirror(domain, target, destination).catch(() => false);
      throw error;
    }
  }

  async abortMirror(domain: string, target: string, destination: string): Promise<boolean> {
    requireTarget(target);
    const { stdout } = await this.virsh(
      ['dumpxml', '--domain', domain],
      this.queryTimeoutMs,
      domain,
    );
    const root = children(this.parser.parse(stdout) as XmlNode, 'domain')[0];
    if (!mirrorsInto(root, target, destination)) return false;
    try {
      await this.virsh(
        ['blockjob', '--domain', domain, '--path', target, '--abort'],
        this.queryTimeoutMs,
        domain,
      );
    } catch (error) {
      // Ended by itself between the check and the abort.
      if (
        error instanceof VirshCommandError &&
        /does not have an active block job|no active block job/i.test(error.stderr)
      )
        return false;
      throw error;
    }
    return true;
  }

  async freezeFilesystems(domain: string): Promise<number> {
    const { stdout } = await this.virsh(
      ['domfsfreeze', '--domain', domain],
      this.queryTimeoutMs,
      domain,
    );
    const match = /(\d+)\s+filesystem/i.exec(stdout);
    return match ? Number(match[1]) : 0;
  }

  async thawFilesystems(domain: string): Promise<void> {
    await this.virsh(['domfsthaw', '--domain', domain], this.queryTimeoutMs, domain);
  }

  async suspend(domain: string): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      const { state } = await this.state(domain);
      if (state === 'paused') return;
      if (state !== 'running' && state !== 'idle') {
        throw new Error(`cannot suspend domain ${domain} in state '${state}'`);
      }
      try {
        await this.act(domain, ['suspend', '--domain', domain], this.queryTimeoutMs);
        return;
      } catch (error) {
        if (attempt < 2 && isStateRace(error)) continue;
        throw error;
      }
    }
  }

  async resume(domain: string): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      const { state } = await this.state(domain);
      if (state === 'running' || state === 'idle') return;
      if (state !== 'paused') throw new Error(`cannot resume domain ${domain} in state '${state}'`);
      try {
        await this.act(domain, ['resume', '--domain', domain], this.queryTimeoutMs);
        return;
      } catch (error) {
        if (attempt < 2 && isStateRace(error)) continue;
        throw error;
      }
    }
  }

  private async domInfo(domain: string): Promise<DomInfo> {
    const { stdout } = await this.virsh(
      ['dominfo', '--domain', domain],
      this.queryTimeoutMs,
      domain,
    );
    const fields = new Map<string, string>();
    for (const line of stdout.split('\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const rawState = fields.get('state');
    if (rawState === undefined)
      throw new Error(`virsh dominfo for ${domain} printed no State: ${stdout}`);
    const info: DomInfo = {
      state: normaliseState(rawState),
      hasManagedSave: fields.get('managed save') === 'yes',
      persistent: fields.get('persistent') === 'yes',
    };
    this.lastRead.set(domain, { info, at: Date.now() });
    return info;
  }

  /**
   * The state read of `domain` within the last RECENT_STATE_MS, if no action was taken on it
   * since; consumed (an action follows). Only ever a reason to act, never to do nothing.
   */
  private recentState(domain: string): DomInfo | null {
    const read = this.lastRead.get(domain);
    this.lastRead.delete(domain);
    return read !== undefined && Date.now() - read.at < RECENT_STATE_MS ? read.info : null;
  }

  /** A virsh command that changes the domain's state: what was read of it no longer holds. */
  private async act(domain: string, args: readonly string[], timeoutMs: number): Promise<void> {
    this.lastRead.delete(domain);
    try {
      await this.virsh(args, timeoutMs, domain);
    } finally {
      this.lastRead.delete(domain);
    }
  }

  private parseDomainXml(
    xml: string,
    domain: string,
  ): Pick<
    DomainDetails,
    'uuid' | 'name' | 'vcpus' | 'memoryMiB' | 'firstFileDisk' | 'owner' | 'guestAgent'
  > {
    const doc = this.parser.parse(xml) as XmlNode;
    const root = children(doc, 'domain')[0];
    if (!root) throw new Error(`virsh dumpxml for ${domain} returned no <domain> element`);
    const uuid = text(children(root, 'uuid')[0]).toLowerCase();
    const name = text(children(root, 'name')[0]);
    if (!uuid || !name) throw new Error(`domain XML of ${domain} has no uuid or name`);

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
      firstFileDisk: firstFileDisk(root),
      owner: ownerFromMetadata(children(root, 'metadata')[0]),
      guestAgent: hasGuestAgent(root),
    };
  }

  private async virsh(
    args: readonly string[],
    timeoutMs: number,
    domain?: string,
  ): Promise<VirshResult> {
    const result = await execa('virsh', ['-q', '-c', this.uri, ...args], {
      timeout: timeoutMs,
      reject: false,
      stdin: 'ignore',
      // virsh translates state names and messages; we parse them in English.
      env: { LC_ALL: 'C', LANG: 'C', LANGUAGE: '' },
    });
    if (!result.failed) return { stdout: result.stdout, stderr: result.stderr };

    const what = `virsh ${args[0]}${domain === undefined ? '' : ` ${domain}`}`;
    const stderr = result.stderr.trim();
    if (result.timedOut) {
      throw new TransientHypervisorError(
        `${what} timed out after ${timeoutMs} ms${stderr ? `: ${stderr}` : ''}`,
      );
    }
    if (TRANSIENT_PATTERNS.some((p) => p.test(stderr)))
      throw new TransientHypervisorError(`${what} failed: ${stderr}`);
    if (domain !== undefined && NOT_FOUND_PATTERNS.some((p) => p.test(stderr))) {
      throw new DomainNotFoundError(domain);
    }
    const detail = stderr || result.originalMessage || result.shortMessage;
    throw new VirshCommandError(
      `${what} failed (exit ${result.exitCode ?? 'none'}): ${detail}`,
      stderr,
    );
  }
}

/** A virsh failure that is neither "not found" nor transient; carries virsh's stderr. */
export class VirshCommandError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'VirshCommandError';
  }
}

/** Errors that mean "the domain was not in the state we just read": re-check and retry. */
function isStateRace(error: unknown): boolean {
  return (
    error instanceof VirshCommandError &&
    /domain is not running|domain is already running|domain is already active|domain is not paused|operation is not valid/i.test(
      error.stderr,
    )
  );
}

/** A domain whose QEMU runs: managedsave can save it. */
function isUp(state: LibvirtDomainState): boolean {
  return state === 'running' || state === 'idle' || state === 'paused';
}

export function normaliseState(raw: string): LibvirtDomainState {
  const value = raw.trim().toLowerCase();
  if (LIBVIRT_STATES.has(value)) return value as LibvirtDomainState;
  return STATE_ALIASES[value] ?? 'no state';
}

type XmlNode = Record<string, unknown>;

function children(node: unknown, name: string): XmlNode[] {
  if (!node || typeof node !== 'object') return [];
  const value = (node as XmlNode)[name];
  if (!Array.isArray(value)) return [];
  // A text-only element without attributes parses to a string: wrap it.
  return value.map((v) =>
    v !== null && typeof v === 'object' ? (v as XmlNode) : { '#text': String(v ?? '') },
  );
}

function attr(node: unknown, name: string): string | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const value = (node as XmlNode)[ATTR + name];
  return value === undefined || value === null ? undefined : String(value);
}

function text(node: unknown): string {
  if (node === undefined || node === null) return '';
  if (typeof node !== 'object') return String(node).trim();
  const value = (node as XmlNode)['#text'];
  return value === undefined || value === null ? '' : String(value).trim();
}

function elementNames(node: XmlNode): string[] {
  return Object.keys(node).filter((k) => !k.startsWith(ATTR) && k !== '#text');
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

function firstFileDisk(domainNode: XmlNode): DomainDisk | null {
  for (const devices of children(domainNode, 'devices')) {
    for (const disk of children(devices, 'disk')) {
      if (attr(disk, 'type') !== 'file' || attr(disk, 'device') !== 'disk') continue;
      const path = attr(children(disk, 'source')[0], 'file');
      if (!path) continue;
      return {
        path,
        format: attr(children(disk, 'driver')[0], 'type') ?? null,
        target: attr(children(disk, 'target')[0], 'dev') ?? '',
      };
    }
  }
  return null;
}

/** A virtio channel named org.qemu.guest_agent.0: the QEMU guest agent. */
function hasGuestAgent(domainNode: XmlNode): boolean {
  for (const devices of children(domainNode, 'devices')) {
    for (const channel of children(devices, 'channel')) {
      for (const target of children(channel, 'target')) {
        if (attr(target, 'name') === 'org.qemu.guest_agent.0') return true;
      }
    }
  }
  return false;
}

/** The live XML shows a block copy of the disk `target` into `destination` (<mirror>). */
function mirrorsInto(
  domainNode: XmlNode | undefined,
  target: string,
  destination: string,
): boolean {
  for (const devices of children(domainNode, 'devices')) {
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

/** A disk target from libvirt (vda, sdb, hdc...); anything else is refused. */
function requireTarget(target: string): void {
  if (!/^[a-z][a-z0-9]{1,15}$/.test(target))
    throw new Error(`invalid disk target: ${JSON.stringify(target)}`);
}

/** Namespace scope: prefix ('' for the default namespace) → URI. */
type NsScope = ReadonlyMap<string, string>;

function withDeclarations(node: XmlNode, parent: NsScope): NsScope {
  let scope: Map<string, string> | null = null;
  for (const key of Object.keys(node)) {
    if (!key.startsWith(ATTR)) continue;
    const attrName = key.slice(ATTR.length);
    let prefix: string | null = null;
    if (attrName === 'xmlns') prefix = '';
    else if (attrName.startsWith('xmlns:')) prefix = attrName.slice('xmlns:'.length);
    if (prefix === null) continue;
    scope ??= new Map(parent);
    scope.set(prefix, String(node[key]));
  }
  return scope ?? parent;
}

interface NsElement {
  readonly node: XmlNode;
  readonly localName: string;
  readonly ns: string | undefined;
  readonly scope: NsScope;
}

/** The child elements of `node`, with their local names and resolved namespace URIs. */
function nsChildren(node: XmlNode, scope: NsScope): NsElement[] {
  const result: NsElement[] = [];
  for (const qname of elementNames(node)) {
    const colon = qname.indexOf(':');
    const prefix = colon >= 0 ? qname.slice(0, colon) : '';
    const localName = colon >= 0 ? qname.slice(colon + 1) : qname;
    for (const child of children(node, qname)) {
      const childScope = withDeclarations(child, scope);
      result.push({ node: child, localName, ns: childScope.get(prefix), scope: childScope });
    }
  }
  return result;
}

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
