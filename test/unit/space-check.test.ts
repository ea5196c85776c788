import { describe, expect, it } from 'vitest';
import type { MeasureOptions } from '../../src/drivers/disk-image.port';
import { SPACE_MARGIN_FLOOR, decideSpace, spaceMargin } from '../../src/domain/space-decision';
import { StagingSpace } from '../../src/sagas/space-check';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const STORE = '/srv/snapledger/images/.staging';

describe('decideSpace', () => {
  it('keeps 64 MiB plus 1 % of the measured size free', () => {
    expect(spaceMargin(0)).toBe(SPACE_MARGIN_FLOOR);
    expect(spaceMargin(10 * GiB)).toBe(64 * MiB + Math.ceil((10 * GiB) / 100));
  });

  it('accepts a conversion that fits with its margin, to the byte', () => {
    const required = 1 * GiB;
    const need = required + spaceMargin(required);
    expect(decideSpace({ required, available: need, promisedElsewhere: 0, store: STORE })).toEqual({
      ok: true,
      need,
    });
  });

  it('refuses one byte short, naming the store, what is needed and what is available', () => {
    const required = 1 * GiB;
    const need = required + spaceMargin(required);
    const decision = decideSpace({
      required,
      available: need - 1,
      promisedElsewhere: 0,
      store: STORE,
    });
    expect(decision.ok).toBe(false);
    if (decision.ok) return;
    expect(decision.reason).toBe(
      `not enough space in the image store ${STORE}: need ${need} bytes ` +
        `(${required} measured by qemu-img + ${need - required} margin), ${need - 1} available`,
    );
  });

  it('refuses when free space would fit only by ignoring the margin', () => {
    const decision = decideSpace({
      required: 100 * MiB,
      available: 120 * MiB,
      promisedElsewhere: 0,
      store: STORE,
    });
    expect(decision.ok).toBe(false);
  });

  it('does not count space promised to running conversions as available', () => {
    const required = 100 * MiB;
    const need = required + spaceMargin(required);
    const alone = decideSpace({ required, available: need, promisedElsewhere: 0, store: STORE });
    expect(alone.ok).toBe(true);
    const shared = decideSpace({
      required,
      available: need,
      promisedElsewhere: 1,
      store: STORE,
    });
    expect(shared.ok).toBe(false);
    if (shared.ok) return;
    expect(shared.reason).toContain(`${need - 1} available (${need} free, of which 1 are promised`);
  });

  it('never reports negative availability', () => {
    const decision = decideSpace({
      required: MiB,
      available: MiB,
      promisedElsewhere: 10 * GiB,
      store: STORE,
    });
    expect(decision.ok).toBe(false);
    if (!decision.ok) expect(decision.reason).toMatch(/, 0 available \(/);
  });
});

describe('StagingSpace (claims of concurrent conversions)', () => {
  /** A measure fake: every source needs `required`; records what it was asked. */
  function tool(required: number) {
    const asked: MeasureOptions[] = [];
    return {
      asked,
      measure: async (options: MeasureOptions) => {
        asked.push(options);
        return { required, fullyAllocated: required };
      },
    };
  }
  const request = (imageId: string) => ({
    imageId,
    source: `/disks/${imageId}.qcow2`,
    sourceFormat: 'qcow2',
    target: `/nonexistent-staging/${imageId}.partial`,
    targetFormat: 'qcow2',
    compression: 'zstd' as const,
  });

  it('measures with force-share and the requested compression, and checks the target directory', async () => {
    const disks = tool(10 * MiB);
    const dirs: string[] = [];
    const space = new StagingSpace(disks, async (dir) => {
      dirs.push(dir);
      return 10 * GiB;
    });
    const claim = await space.claim(request('a'));
    expect(claim.ok).toBe(true);
    expect(disks.asked).toEqual([
      {
        source: '/disks/a.qcow2',
        sourceFormat: 'qcow2',
        targetFormat: 'qcow2',
        compression: 'zstd',
        shared: true,
      },
    ]);
    expect(dirs).toEqual(['/nonexistent-staging']);
  });

  it('a second conversion cannot take the space the first has claimed, until it is released', async () => {
    const required = 500 * MiB;
    const free = required + spaceMargin(required) + 100 * MiB; // room for one, not two
    const space = new StagingSpace(tool(required), async () => free);
    const [first, second] = await Promise.all([
      space.claim(request('a')),
      space.claim(request('b')),
    ]);
    expect(first.ok).toBe(true);
    expect(second.ok).toBe(false);
    if (!second.ok) expect(second.reason).toContain(`of which ${required} are promised`);

    if (first.ok) first.release();
    const third = await space.claim(request('b'));
    expect(third.ok).toBe(true);
  });

  it('claims the measured size once per copy the work writes at once', async () => {
    const required = 100 * MiB;
    const free = 2 * required + spaceMargin(2 * required);
    const space = new StagingSpace(tool(required), async () => free);
    const twice = await space.claim({ ...request('root'), copies: 2 });
    expect(twice).toMatchObject({ ok: true, need: free });
    if (twice.ok) twice.release();
    const thrice = await space.claim({ ...request('root'), copies: 3 });
    expect(thrice.ok).toBe(false);
    if (!thrice.ok) expect(thrice.reason).toContain(`(${3 * required} measured by qemu-img`);
  });

  it('the same image claiming again (a retried conversion) does not count against itself', async () => {
    const required = 500 * MiB;
    const free = required + spaceMargin(required);
    const space = new StagingSpace(tool(required), async () => free);
    expect((await space.claim(request('a'))).ok).toBe(true);
    expect((await space.claim(request('a'))).ok).toBe(true);
  });

  it('one StagingSpace per disk tool', () => {
    const a = tool(1);
    expect(StagingSpace.of(a)).toBe(StagingSpace.of(a));
    expect(StagingSpace.of(a)).not.toBe(StagingSpace.of(tool(1)));
  });
});
