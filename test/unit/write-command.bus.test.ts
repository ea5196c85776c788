import type { CommandBus } from '@nestjs/cqrs';
import { describe, expect, it } from 'vitest';
import type { ReadYourWrites } from '../../src/api/read-your-writes';
import { READ_YOUR_WRITES_TIMEOUT_MS, WriteCommandBus } from '../../src/api/write-command.bus';
import type { SnapledgerLogger } from '../../src/logger';

class SomeWrite {
  constructor(readonly position: number) {}
}

/** A bus whose command "appends" at the position it carries; records the runner's waits. */
function harness(applied: boolean) {
  const waits: [number, number | undefined][] = [];
  const warnings: unknown[] = [];
  const order: string[] = [];
  const commands = {
    execute: (command: SomeWrite) => {
      order.push('command');
      return Promise.resolve({ position: command.position, imageId: 'img' });
    },
  } as unknown as CommandBus;
  const views: ReadYourWrites = {
    waitFor: (position, timeoutMs) => {
      order.push('wait');
      waits.push([position, timeoutMs]);
      return Promise.resolve(applied);
    },
  };
  const logger = {
    warn: (fields: unknown) => warnings.push(fields),
  } as unknown as SnapledgerLogger;
  return { bus: new WriteCommandBus(commands, views, logger), waits, warnings, order };
}

describe('WriteCommandBus (read-your-writes for every write route)', () => {
  it("waits for the command's own position, with the bounded timeout, before answering", async () => {
    const { bus, waits, warnings, order } = harness(true);
    const result = await bus.execute<SomeWrite, { position: number; imageId: string }>(
      new SomeWrite(42),
    );
    expect(result).toEqual({ position: 42, imageId: 'img' });
    expect(order).toEqual(['command', 'wait']);
    expect(waits).toEqual([[42, READ_YOUR_WRITES_TIMEOUT_MS]]);
    expect(warnings).toEqual([]);
  });

  it('answers anyway when the views do not catch up in time, and says so', async () => {
    const { bus, warnings } = harness(false);
    const result = await bus.execute<SomeWrite, { position: number }>(new SomeWrite(7));
    expect(result.position).toBe(7);
    expect(warnings).toEqual([{ command: 'SomeWrite', position: 7 }]);
  });
});
