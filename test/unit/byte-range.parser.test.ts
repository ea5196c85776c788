import { describe, expect, it } from 'vitest';
import { parseByteRange } from '../../src/api/rest/byte-range.parser';

describe('parseByteRange', () => {
  const size = 1000;

  it('sends the whole body without a Range header', () => {
    expect(parseByteRange(undefined, size)).toEqual({ kind: 'full' });
  });

  it.each([
    ['bytes=0-99', 0, 99],
    ['bytes=100-', 100, 999],
    ['bytes=-10', 990, 999],
    ['bytes=-5000', 0, 999],
    ['bytes=990-5000', 990, 999],
    ['bytes=999-999', 999, 999],
    ['BYTES = 5 - 6', 5, 6],
  ])('%s is the range %i..%i', (header, start, end) => {
    expect(parseByteRange(header, size)).toEqual({ kind: 'partial', start, end });
  });

  it.each(['bytes=1000-', 'bytes=1000-1001', 'bytes=-0', 'bytes=5000-6000'])(
    '%s cannot be satisfied',
    (header) => {
      expect(parseByteRange(header, size)).toEqual({ kind: 'unsatisfiable' });
    },
  );

  it('cannot satisfy any range of an empty file', () => {
    expect(parseByteRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseByteRange('bytes=-1', 0)).toEqual({ kind: 'unsatisfiable' });
  });

  it.each(['bytes=0-1,5-6', 'bytes=0-0, 5-10', 'bytes=,'])(
    '%j asks for several ranges, which Glance refuses (400)',
    (header) => {
      expect(parseByteRange(header, size)).toEqual({ kind: 'multiple' });
    },
  );

  it.each(['items=0-1', 'bytes=a-b', 'bytes=1e3-2000', 'bytes=-', 'bytes=5-1', 'bytes 0-1', ''])(
    '%j is not one byte range: Invalid Range header (416), as Glance answers',
    (header) => {
      expect(parseByteRange(header, size)).toEqual({ kind: 'invalid' });
    },
  );
});
