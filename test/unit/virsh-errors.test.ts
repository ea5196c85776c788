import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainNotFoundError, TransientHypervisorError } from '../../src/drivers/hypervisor.port';
import {
  VirshCommandError,
  isNoActiveBlockJob,
  isStateRace,
  virshFailureError,
  type VirshFailure,
} from '../../src/drivers/virsh-errors';

/** Real failures of virsh 9.0 (see test/fixtures/domain-xml/README.md for how each was made). */
interface RecordedFailure {
  readonly case: string;
  /** ['virsh', '-q', '-c', uri, command, ...args] */
  readonly command: readonly string[];
  readonly exitCode: number;
  readonly stderr: string;
}

const recorded = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'virsh-errors', 'recorded.json'), 'utf8'),
) as RecordedFailure[];

function failureOf(run: RecordedFailure): VirshFailure {
  const args = run.command.slice(4);
  const domainAt = args.indexOf('--domain');
  return {
    command: args[0],
    domain: domainAt >= 0 ? args[domainAt + 1] : undefined,
    stderr: run.stderr,
    timedOut: false,
    timeoutMs: 30_000,
    exitCode: run.exitCode,
    description: 'Command failed with exit code 1',
  };
}

type Reading = 'not found' | 'transient' | 'state race' | 'no block job' | 'other';

/** What each recorded failure must be read as. */
const EXPECTED: Readonly<Record<string, Reading>> = {
  'dominfo-missing-name': 'not found',
  'dumpxml-missing-uuid': 'not found',
  'start-paused-domain': 'state race',
  'start-running-domain': 'state race',
  'suspend-shut-off': 'state race',
  'resume-shut-off': 'state race',
  'resume-running': 'state race',
  'managedsave-shut-off': 'state race',
  'blockjob-abort-no-job': 'no block job',
  'blockjob-abort-unknown-disk': 'other',
  'start-missing-block-device': 'other',
  'domfsfreeze-no-agent-channel': 'other',
  // The guest agent not answering is not libvirt's trouble: retrying will not bring it up.
  'domfsfreeze-agent-not-connected': 'other',
  'domfsthaw-agent-not-connected': 'other',
  'resume-state-change-lock-held': 'transient',
  'socket-missing': 'transient',
  'socket-without-listener': 'transient',
  'no-connection-driver': 'transient',
  'peer-closes-after-request': 'transient',
};

function readingOf(error: Error): Reading {
  if (error instanceof DomainNotFoundError) return 'not found';
  if (error instanceof TransientHypervisorError) return 'transient';
  if (isStateRace(error)) return 'state race';
  if (isNoActiveBlockJob(error)) return 'no block job';
  return 'other';
}

describe('virshFailureError on recorded virsh failures', () => {
  it('given the recordings, when listed, then each has an expected reading and a failing exit', () => {
    expect(recorded.map((r) => r.case).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const run of recorded) expect(run.exitCode, run.case).toBe(1);
  });

  it.each(recorded.map((run) => [run.case, run] as const))(
    'given %s, when classified, then it reads as expected',
    (name, run) => {
      expect(readingOf(virshFailureError(failureOf(run)))).toBe(EXPECTED[name]);
    },
  );

  it('given a missing domain, when classified, then the error names the domain asked for', () => {
    const run = recorded.find((r) => r.case === 'dominfo-missing-name')!;
    const error = virshFailureError(failureOf(run));
    expect(error).toBeInstanceOf(DomainNotFoundError);
    expect((error as DomainNotFoundError).domain).toBe('sl-xmlfix-nonexistent');
  });

  it('given "failed to get domain" from a run on no domain, when classified, then not-found is not concluded', () => {
    const run = recorded.find((r) => r.case === 'dominfo-missing-name')!;
    const error = virshFailureError({ ...failureOf(run), command: 'list', domain: undefined });
    expect(error).toBeInstanceOf(VirshCommandError);
    expect(error.message).toBe(
      "virsh list failed (exit 1): error: failed to get domain 'sl-xmlfix-nonexistent'",
    );
  });

  it('given a connection failure, when classified, then the message carries the command, domain and stderr', () => {
    const run = recorded.find((r) => r.case === 'resume-state-change-lock-held')!;
    const error = virshFailureError(failureOf(run));
    expect(error).toBeInstanceOf(TransientHypervisorError);
    expect(error.message).toBe(
      "virsh resume sl-xmlfix-backing failed: error: Failed to resume domain 'sl-xmlfix-backing'\n" +
        'error: Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainSuspend)',
    );
  });

  it('given a state race, when classified, then the VirshCommandError keeps the trimmed stderr', () => {
    const run = recorded.find((r) => r.case === 'managedsave-shut-off')!;
    const error = virshFailureError({ ...failureOf(run), stderr: `${run.stderr}\n\n` });
    expect(error).toBeInstanceOf(VirshCommandError);
    expect((error as VirshCommandError).stderr).toBe(run.stderr);
    expect(error.message).toBe(`virsh managedsave sl-xmlfix-raw failed (exit 1): ${run.stderr}`);
  });
});

describe('virshFailureError on failures virsh did not describe', () => {
  const base: VirshFailure = {
    command: 'managedsave',
    domain: 'web-1',
    stderr: '',
    timedOut: false,
    timeoutMs: 3_600_000,
    exitCode: undefined,
    description: 'Command was killed with SIGPIPE (Broken pipe)',
  };

  it('given a run killed by our timeout, when classified, then it is transient and says how long it waited', () => {
    const error = virshFailureError({ ...base, timedOut: true });
    expect(error).toBeInstanceOf(TransientHypervisorError);
    expect(error.message).toBe('virsh managedsave web-1 timed out after 3600000 ms');
  });

  it('given a timeout after virsh printed something, when classified, then its stderr is kept', () => {
    const error = virshFailureError({ ...base, timedOut: true, stderr: 'error: x\n' });
    expect(error).toBeInstanceOf(TransientHypervisorError);
    expect(error.message).toBe('virsh managedsave web-1 timed out after 3600000 ms: error: x');
  });

  it('given a timeout whose stderr says "not found", when classified, then the timeout wins', () => {
    const error = virshFailureError({
      ...base,
      timedOut: true,
      stderr: "error: failed to get domain 'web-1'",
    });
    expect(error).toBeInstanceOf(TransientHypervisorError);
  });

  it("given a run killed by a signal with no stderr, when classified, then execa's description is the detail", () => {
    const error = virshFailureError(base);
    expect(error).toBeInstanceOf(VirshCommandError);
    expect(error.message).toBe(
      'virsh managedsave web-1 failed (exit none): Command was killed with SIGPIPE (Broken pipe)',
    );
    expect(isStateRace(error)).toBe(false);
  });

  it('given a lost connection mentioning the domain, when classified, then transient wins over not-found', () => {
    const error = virshFailureError({
      ...base,
      exitCode: 1,
      stderr:
        "error: failed to get domain 'web-1'\nerror: cannot recv data: Connection reset by peer",
    });
    expect(error).toBeInstanceOf(TransientHypervisorError);
  });
});

describe('isStateRace and isNoActiveBlockJob', () => {
  it('given errors other than VirshCommandError, when asked, then neither holds', () => {
    const stderr = 'error: Requested operation is not valid: domain is not running';
    expect(isStateRace(new Error(stderr))).toBe(false);
    expect(isStateRace(new TransientHypervisorError(stderr))).toBe(false);
    expect(isNoActiveBlockJob(new Error('no active block job'))).toBe(false);
    expect(isStateRace(undefined)).toBe(false);
  });

  it('given the second wording the driver accepts, no active block job, when asked, then it is recognised', () => {
    expect(isNoActiveBlockJob(new VirshCommandError('m', "error: No active block job 'vda'"))).toBe(
      true,
    );
  });
});
