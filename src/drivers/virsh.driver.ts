import { isAbsolute } from 'node:path';
import { execa } from 'execa';
import { mirrorsInto, parseDomainXml } from './domain-xml';
import {
  DomainStateError,
  TransientHypervisorError,
  type DomainDetails,
  type DomainSummary,
  type Hypervisor,
  type LibvirtDomainState,
  type MirrorOptions,
} from './hypervisor.port';
import { isNoActiveBlockJob, isStateRace, virshFailureError } from './virsh-errors';

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
    return { ...parseDomainXml(xml.stdout, domain), ...info };
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
    if (!mirrorsInto(stdout, target, destination)) return false;
    try {
      await this.virsh(
        ['blockjob', '--domain', domain, '--path', target, '--abort'],
        this.queryTimeoutMs,
        domain,
      );
    } catch (error) {
      // Ended by itself between the check and the abort.
      if (isNoActiveBlockJob(error)) return false;
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

    throw virshFailureError({
      command: args[0],
      domain,
      stderr: result.stderr,
      timedOut: result.timedOut,
      timeoutMs,
      exitCode: result.exitCode,
      description: result.originalMessage || result.shortMessage,
    });
  }
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

/** A disk target from libvirt (vda, sdb, hdc...); anything else is refused. */
function requireTarget(target: string): void {
  if (!/^[a-z][a-z0-9]{1,15}$/.test(target))
    throw new Error(`invalid disk target: ${JSON.stringify(target)}`);
}
