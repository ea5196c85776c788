import { describe, expect, it } from 'vitest';
import { walksTheLog } from '../../src/cli/heap-ceiling';

describe('the commands that run under a heap ceiling', () => {
  it('are verify and projections rebuild, whatever their options', () => {
    expect(walksTheLog(['verify'])).toBe(true);
    expect(walksTheLog(['verify', '--json', '--expect-head', 'abc'])).toBe(true);
    expect(walksTheLog(['projections', 'rebuild'])).toBe(true);
  });

  it('are not the service, the other commands, or help', () => {
    expect(walksTheLog(['serve'])).toBe(false);
    expect(walksTheLog(['projections'])).toBe(false);
    expect(walksTheLog(['images', 'verify', 'x'])).toBe(false);
    expect(walksTheLog(['--help'])).toBe(false);
    expect(walksTheLog([])).toBe(false);
  });
});
