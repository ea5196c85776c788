import { describe, expect, it } from 'vitest';
import { ViewResponseCache } from '../../src/api/rest/view-response.cache';

describe('ViewResponseCache', () => {
  it('builds once per key and position, and forgets everything when the position moves', async () => {
    const cache = new ViewResponseCache();
    let builds = 0;
    const build = async () => ({ n: ++builds });
    const [a, b] = await Promise.all([cache.get(1, 'k', build), cache.get(1, 'k', build)]);
    expect(builds).toBe(1);
    expect(a).toBe(b);
    expect(JSON.parse(a.body.toString())).toEqual({ n: 1 });
    expect(a.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const moved = await cache.get(2, 'k', build);
    expect(JSON.parse(moved.body.toString())).toEqual({ n: 2 });
    expect(moved.etag).not.toBe(a.etag);
  });

  it('does not keep failures and drops the oldest entry when full', async () => {
    const cache = new ViewResponseCache(2);
    await expect(cache.get(1, 'bad', () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    let builds = 0;
    const build = async () => ++builds;
    await cache.get(1, 'bad', build);
    expect(builds).toBe(1);
    await cache.get(1, 'x', build);
    await cache.get(1, 'y', build); // evicts 'bad'
    await cache.get(1, 'bad', build);
    expect(builds).toBe(4);
  });
});
