import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  chainHash,
  contentDigest,
  formatHead,
  GENESIS_HASH,
  parseHead,
  storedContentDigest,
} from '../../src/event-store/log-hash';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('the hash chain (log-hash.ts)', () => {
  it('digests the RFC 8785 canonical form: key order and white space do not matter', () => {
    const a = storedContentDigest('image-1', 'Uploaded', '{"b":1,"a":[1,2]}', '{"z":"x","y":2}');
    const b = storedContentDigest(
      'image-1',
      'Uploaded',
      '{ "a": [1, 2], "b": 1.0 }',
      '{"y":2,"z":"x"}',
    );
    expect(a).toBe(b);
    expect(a).toBe(
      sha(
        '{"data":{"a":[1,2],"b":1},"metadata":{"y":2,"z":"x"},"stream":"image-1","type":"Uploaded"}',
      ),
    );
  });

  it('changes with every field it covers', () => {
    const base = { streamName: 's-1', type: 'T', data: { n: 1 }, metadata: { occurredAt: 't1' } };
    const digests = new Set([
      contentDigest(base),
      contentDigest({ ...base, streamName: 's-2' }),
      contentDigest({ ...base, type: 'U' }),
      contentDigest({ ...base, data: { n: 2 } }),
      contentDigest({ ...base, metadata: { occurredAt: 't2' } }),
    ]);
    expect(digests.size).toBe(5);
    const d = contentDigest(base);
    const links = new Set([
      chainHash(GENESIS_HASH, 1, 0, d),
      chainHash('1'.repeat(64), 1, 0, d),
      chainHash(GENESIS_HASH, 2, 0, d),
      chainHash(GENESIS_HASH, 1, 1, d),
    ]);
    expect(links.size).toBe(4);
    expect(chainHash(GENESIS_HASH, 1, 0, d)).toBe(sha(`${GENESIS_HASH}\n1\n0\n${d}`));
  });

  it('reads back the head it prints, and refuses anything else with a reason', () => {
    const head = { position: 48211, hash: 'ab'.repeat(32) };
    expect(parseHead(formatHead(head))).toEqual(head);
    expect(parseHead(` ${formatHead(head)}\n`)).toEqual(head);
    for (const bad of [
      '',
      '12',
      `0:${'a'.repeat(64)}`,
      `1:${'A'.repeat(64)}`,
      `x:${'a'.repeat(64)}`,
      `1:${'a'.repeat(63)}`,
    ]) {
      expect(() => parseHead(bad)).toThrow(RangeError);
    }
  });
});
