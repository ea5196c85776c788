import { describe, expect, it } from 'vitest';
import { downtimeFromLifecycle } from '../bench/live-downtime.bench';

const line = (time: string, what: string) =>
  `2026-11-26 07:19:${time}+0000: event 'lifecycle' for domain 'sl-test-x': ${what}`;

describe('downtimeFromLifecycle (live-downtime benchmark)', () => {
  it('counts a managedsave from Suspended to the Resumed after the restore', () => {
    const lines = [
      line('09.940', 'Suspended Paused'),
      line('11.391', 'Stopped Saved'),
      line('11.838', 'Started Restored'),
      line('11.851', 'Resumed Snapshot'),
    ];
    expect(downtimeFromLifecycle(lines, Date.parse('2026-11-26T07:19:20Z'))).toBe(1911);
  });

  it('is 0 with no lifecycle event, and counts a domain left down until the end', () => {
    expect(downtimeFromLifecycle([], 0)).toBe(0);
    const end = Date.parse('2026-11-26T07:19:10.000Z');
    expect(downtimeFromLifecycle([line('09.900', 'Suspended Paused')], end)).toBe(100);
  });
});
