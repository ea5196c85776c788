import { describe, expect, it } from 'vitest';
import { InvalidTransitionError } from '../../src/domain/domain-errors';
import { InjectedFaultError } from '../../src/commands/fault-injection';
import { loadConfig } from '../../src/config/snapledger.config';
import { DiskImageToolError } from '../../src/drivers/disk-image.port';
import {
  DomainNotFoundError,
  DomainStateError,
  TransientHypervisorError,
} from '../../src/drivers/hypervisor.port';
import { PermanentStepError } from '../../src/sagas/permanent-step.error';
import {
  afterStepError,
  backoffDelayMs,
  isPermanent,
  type FailedTry,
  type StepRetryPolicy,
} from '../../src/sagas/step-retry.policy';

const POLICY: StepRetryPolicy = { attempts: 3, firstBackoffMs: 500, maxBackoffMs: 4000 };

const transient = (action: FailedTry['action'], attempt: number, compensating = false) =>
  afterStepError({ action, attempt, permanent: false, domainMissing: false, compensating }, POLICY);

describe('step back-off', () => {
  it('starts at the first back-off, doubles, and is capped', () => {
    expect([1, 2, 3, 4, 5, 6, 40].map((a) => backoffDelayMs(a, POLICY))).toEqual([
      500, 1000, 2000, 4000, 4000, 4000, 4000,
    ]);
  });

  it('never overflows into Infinity or NaN for huge attempt numbers', () => {
    expect(backoffDelayMs(5000, POLICY)).toBe(4000);
  });
});

describe('forward steps: bounded retries', () => {
  it('retries a transient error, recording each retry, until the attempts are used up', () => {
    expect(transient('restore', 1)).toEqual({ kind: 'retry', delayMs: 500, record: true });
    expect(transient('restore', 2)).toEqual({ kind: 'retry', delayMs: 1000, record: true });
    expect(transient('restore', 3)).toEqual({ kind: 'fail' });
  });

  it('fails at once on a permanent error', () => {
    const outcome = afterStepError(
      { action: 'extract', attempt: 1, permanent: true, domainMissing: false, compensating: false },
      POLICY,
    );
    expect(outcome).toEqual({ kind: 'fail' });
  });

  it('with one attempt, never retries', () => {
    const once = { ...POLICY, attempts: 1 };
    expect(
      afterStepError(
        { action: 'plan', attempt: 1, permanent: false, domainMissing: false, compensating: false },
        once,
      ),
    ).toEqual({ kind: 'fail' });
  });

  it('a forward restore of a domain that is gone fails the snapshot (not given up yet)', () => {
    expect(
      afterStepError(
        {
          action: 'restore',
          attempt: 1,
          permanent: true,
          domainMissing: true,
          compensating: false,
        },
        POLICY,
      ),
    ).toEqual({ kind: 'fail' });
  });
});

describe('compensation: never fails, gives up only a restore that cannot work', () => {
  it('keeps retrying a transient error (libvirtd down) far beyond the attempts, at the capped back-off', () => {
    expect(transient('restore', 50, true)).toEqual({ kind: 'retry', delayMs: 4000, record: false });
    expect(transient('release', 9, false)).toEqual({ kind: 'retry', delayMs: 4000, record: false });
    expect(transient('cleanup', 7, true)).toEqual({ kind: 'retry', delayMs: 4000, record: false });
  });

  it('gives up restoring a domain that no longer exists, at the first try', () => {
    expect(
      afterStepError(
        { action: 'restore', attempt: 1, permanent: true, domainMissing: true, compensating: true },
        POLICY,
      ),
    ).toEqual({ kind: 'give-up-restore' });
  });

  it('gives up a restore that fails permanently only after the attempts', () => {
    const permanent = (attempt: number) =>
      afterStepError(
        { action: 'restore', attempt, permanent: true, domainMissing: false, compensating: true },
        POLICY,
      );
    expect(permanent(2)).toMatchObject({ kind: 'retry', record: false });
    expect(permanent(3)).toEqual({ kind: 'give-up-restore' });
  });
});

describe('retry configuration', () => {
  it('defaults: 3 attempts, 500 ms first back-off, 30 s cap', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      stepAttempts: 3,
      stepBackoffMs: 500,
      stepBackoffMaxMs: 30_000,
    });
  });

  it('reads SNAPLEDGER_STEP_ATTEMPTS, SNAPLEDGER_STEP_BACKOFF_MS and SNAPLEDGER_STEP_BACKOFF_MAX_MS', () => {
    const config = loadConfig({
      SNAPLEDGER_STEP_ATTEMPTS: '6',
      SNAPLEDGER_STEP_BACKOFF_MS: '250',
      SNAPLEDGER_STEP_BACKOFF_MAX_MS: '2000',
    });
    expect(config).toMatchObject({ stepAttempts: 6, stepBackoffMs: 250, stepBackoffMaxMs: 2000 });
  });

  it('keeps the cap at least the first back-off, and refuses garbage', () => {
    expect(
      loadConfig({ SNAPLEDGER_STEP_BACKOFF_MS: '5000', SNAPLEDGER_STEP_BACKOFF_MAX_MS: '100' })
        .stepBackoffMaxMs,
    ).toBe(5000);
    expect(() => loadConfig({ SNAPLEDGER_STEP_BACKOFF_MS: '-1' })).toThrow(
      /SNAPLEDGER_STEP_BACKOFF_MS must be a non-negative integer/,
    );
    expect(() => loadConfig({ SNAPLEDGER_STEP_BACKOFF_MAX_MS: 'soon' })).toThrow(
      /SNAPLEDGER_STEP_BACKOFF_MAX_MS/,
    );
  });
});

describe('isPermanent', () => {
  it('given errors no retry can fix, when classified, then they are permanent', () => {
    expect(isPermanent(new PermanentStepError('no file-backed disk'))).toBe(true);
    expect(isPermanent(new DomainNotFoundError('vm-1'))).toBe(true);
    expect(isPermanent(new DomainStateError('domain is crashed'))).toBe(true);
    expect(isPermanent(new InvalidTransitionError('task_state moved on'))).toBe(true);
    expect(isPermanent(new DiskImageToolError('qemu-img failed', 'bad header'))).toBe(true);
    expect(isPermanent(new InjectedFaultError('fail:plan', true))).toBe(true);
  });

  it('given errors a later try may not meet, when classified, then they are transient', () => {
    expect(isPermanent(new TransientHypervisorError('libvirtd is restarting'))).toBe(false);
    expect(isPermanent(new InjectedFaultError('fail-once:plan', false))).toBe(false);
    expect(isPermanent(new Error('socket hang up'))).toBe(false);
    expect(isPermanent('not even an error')).toBe(false);
  });
});
