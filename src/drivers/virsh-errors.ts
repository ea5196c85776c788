import { DomainNotFoundError, TransientHypervisorError } from './hypervisor.port';

/**
 * What virsh's failures mean, read from its stderr (in the C locale). Pure: the driver runs
 * virsh and hands the failure over.
 */

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

/** One failed virsh run. */
export interface VirshFailure {
  /** virsh's command, e.g. 'managedsave'. */
  readonly command: string;
  /** The domain it was run on; without one, "not found" is not concluded. */
  readonly domain?: string;
  readonly stderr: string;
  /** Killed by our timeout of `timeoutMs`. */
  readonly timedOut: boolean;
  readonly timeoutMs: number;
  readonly exitCode: number | undefined;
  /** How the run failed, from execa: the detail when virsh printed nothing (killed by a signal). */
  readonly description?: string;
}

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

/** The domain was not in the state just read of it: re-check and retry. */
const STATE_RACE =
  /domain is not running|domain is already running|domain is already active|domain is not paused|operation is not valid/i;

const NO_ACTIVE_BLOCK_JOB = /does not have an active block job|no active block job/i;

/**
 * The error a failed virsh run is reported as: TransientHypervisorError for a timeout or a
 * failure that may pass (the caller may retry), DomainNotFoundError, else VirshCommandError.
 */
export function virshFailureError(failure: VirshFailure): Error {
  const { command, domain, timedOut, timeoutMs } = failure;
  const what = `virsh ${command}${domain === undefined ? '' : ` ${domain}`}`;
  const stderr = failure.stderr.trim();
  if (timedOut) {
    return new TransientHypervisorError(
      `${what} timed out after ${timeoutMs} ms${stderr ? `: ${stderr}` : ''}`,
    );
  }
  if (TRANSIENT_PATTERNS.some((p) => p.test(stderr)))
    return new TransientHypervisorError(`${what} failed: ${stderr}`);
  if (domain !== undefined && NOT_FOUND_PATTERNS.some((p) => p.test(stderr))) {
    return new DomainNotFoundError(domain);
  }
  const detail = stderr || failure.description;
  return new VirshCommandError(
    `${what} failed (exit ${failure.exitCode ?? 'none'}): ${detail}`,
    stderr,
  );
}

/** A state-changing command failed because the domain's state changed since it was read. */
export function isStateRace(error: unknown): boolean {
  return error instanceof VirshCommandError && STATE_RACE.test(error.stderr);
}

/** `blockjob --abort` found no job: it ended by itself. */
export function isNoActiveBlockJob(error: unknown): boolean {
  return error instanceof VirshCommandError && NO_ACTIVE_BLOCK_JOB.test(error.stderr);
}
