import { describe, expect, it } from 'vitest';
import type { LifecycleNotice } from '../../src/drivers/domain-lifecycle.port';
import { parseLifecycleLine } from '../../src/drivers/virsh-event.parser';
import { DowntimeWatch, isDownAfter, isDownIn } from '../../src/sagas/downtime-watch';
import { downtimeMsOf } from '../../src/projections/downtime';

const event = (at: string, domain: string, name: string, detail: string): LifecycleNotice => ({
  kind: 'event',
  event: { at: new Date(at), domain, event: name, detail },
});

describe('virsh event lines', () => {
  it('parses a lifecycle line with its timestamp, domain, event and detail', () => {
    expect(
      parseLifecycleLine(
        "2026-12-04 17:13:56.153+0000: event 'lifecycle' for domain 'snap demo': Suspended Paused",
      ),
    ).toEqual({
      at: new Date('2026-12-04T17:13:56.153Z'),
      domain: 'snap demo',
      event: 'Suspended',
      detail: 'Paused',
    });
    expect(
      parseLifecycleLine(
        "2026-12-04 17:14:01.694+0100: event 'lifecycle' for domain 'vm': Shutdown Finished after host request",
      ),
    ).toMatchObject({
      at: new Date('2026-12-04T16:14:01.694Z'),
      event: 'Shutdown',
      detail: 'Finished after host request',
    });
  });

  it('ignores other event kinds and continuation lines', () => {
    expect(
      parseLifecycleLine(
        "2026-12-04 17:13:56.210+0000: event 'migration-iteration' for domain 'vm': iteration: '1'",
      ),
    ).toBeNull();
    expect(parseLifecycleLine('\ttime_elapsed: 260')).toBeNull();
    expect(parseLifecycleLine('')).toBeNull();
  });
});

describe('what counts as down', () => {
  it('for a running domain: any stop of its vCPUs', () => {
    expect(isDownAfter('Suspended', 'running')).toBe(true);
    expect(isDownAfter('Stopped', 'running')).toBe(true);
    expect(isDownAfter('Resumed', 'running')).toBe(false);
    expect(isDownAfter('Started', 'running')).toBe(false);
    expect(isDownAfter('Shutdown', 'running')).toBeNull();
    expect(isDownIn('paused', 'running')).toBe(true);
    expect(isDownIn('running', 'running')).toBe(false);
  });

  it('for a paused domain: only losing its QEMU (saved, shut off)', () => {
    expect(isDownAfter('Suspended', 'paused')).toBe(false);
    expect(isDownAfter('Stopped', 'paused')).toBe(true);
    expect(isDownIn('paused', 'paused')).toBe(false);
    expect(isDownIn('shut off', 'paused')).toBe(true);
  });
});

describe('DowntimeWatch', () => {
  const start = { at: new Date('2026-01-01T00:00:00.000Z'), down: false, cause: '' };

  it("turns a domain's pause and resume into one closed stretch, ignoring other domains", () => {
    const watch = new DowntimeWatch('vm', 'running', start);
    watch.observe(event('2026-01-01T00:00:01.000Z', 'other', 'Suspended', 'Paused'));
    watch.observe(event('2026-01-01T00:00:02.000Z', 'vm', 'Suspended', 'Paused'));
    watch.observe(event('2026-01-01T00:00:03.250Z', 'vm', 'Resumed', 'Unpaused'));
    expect(watch.pending).toEqual([
      {
        cause: 'Suspended Paused',
        startedAt: '2026-01-01T00:00:02.000Z',
        endedAt: '2026-01-01T00:00:03.250Z',
        durationMs: 1250,
        ongoing: false,
      },
    ]);
  });

  it('keeps a save and its restore as one stretch (Suspended, Stopped, Started, Resumed)', () => {
    const watch = new DowntimeWatch('vm', 'running', start);
    watch.observe(event('2026-01-01T00:00:01.000Z', 'vm', 'Suspended', 'Paused'));
    watch.observe(event('2026-01-01T00:00:02.500Z', 'vm', 'Stopped', 'Saved'));
    watch.observe(event('2026-01-01T00:00:04.000Z', 'vm', 'Started', 'Restored'));
    watch.observe(event('2026-01-01T00:00:04.005Z', 'vm', 'Resumed', 'Snapshot'));
    expect(watch.pending.map((i) => i.durationMs)).toEqual([3000]);
  });

  it('cuts a stretch still open at the end, marked ongoing, and only in the final take', () => {
    const watch = new DowntimeWatch('vm', 'running', start);
    watch.observe(event('2026-01-01T00:00:01.000Z', 'vm', 'Suspended', 'Paused'));
    const at = new Date('2026-01-01T00:00:01.400Z');
    expect(watch.take(at, false).intervals).toEqual([]);
    expect(watch.take(at, true).intervals).toEqual([
      {
        cause: 'Suspended Paused',
        startedAt: '2026-01-01T00:00:01.000Z',
        endedAt: '2026-01-01T00:00:01.400Z',
        durationMs: 400,
        ongoing: true,
      },
    ]);
  });

  it('starts open when the domain is down when the watch begins, and counts stream gaps', () => {
    const watch = new DowntimeWatch('vm', 'running', {
      ...start,
      down: true,
      cause: 'found paused',
    });
    watch.observe({ kind: 'gap', at: new Date('2026-01-01T00:00:00.500Z'), reason: 'virsh died' });
    watch.observe(event('2026-01-01T00:00:02.000Z', 'vm', 'Resumed', 'Unpaused'));
    const seen = watch.take(new Date('2026-01-01T00:00:03.000Z'), false);
    expect(seen.intervals.map((i) => [i.cause, i.durationMs])).toEqual([['found paused', 2000]]);
    expect(seen.gaps).toBe(1);
    watch.recorded(new Date('2026-01-01T00:00:03.000Z'), 1);
    expect(watch.pending).toEqual([]);
    expect(watch.take(new Date('2026-01-01T00:00:04.000Z'), true)).toMatchObject({
      intervals: [],
      watchedFrom: new Date('2026-01-01T00:00:03.000Z'),
      gaps: 0,
    });
  });
});

describe('downtimeMsOf', () => {
  const record = (startedAt: string, endedAt: string | null) => ({
    source: 'libvirt' as const,
    cause: 'x',
    startedAt: `2026-01-01T00:00:${startedAt}Z`,
    endedAt: endedAt === null ? null : `2026-01-01T00:00:${endedAt}Z`,
    ongoing: false,
  });

  it('is the length of the union of the closed stretches', () => {
    expect(downtimeMsOf([])).toBe(0);
    expect(downtimeMsOf([record('01.000', '02.000'), record('01.500', '03.000')])).toBe(2000);
    expect(downtimeMsOf([record('05.000', '05.100'), record('01.000', '01.200')])).toBe(300);
    expect(downtimeMsOf([record('01.000', '04.000'), record('02.000', '03.000')])).toBe(3000);
    expect(downtimeMsOf([record('01.000', null), record('02.000', '02.250')])).toBe(250);
  });
});
