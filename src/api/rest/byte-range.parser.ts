/**
 * What to send for a download, given its `Range` header (RFC 9110 §14):
 * - `full`: the whole body, 200. Also the answer to a header we do not honour: another unit,
 *   a malformed value, or several ranges (ignoring Range is always allowed, and a whole body
 *   is simpler for clients than multipart/byteranges);
 * - `partial`: bytes `start`..`end` inclusive, 206 with `Content-Range: bytes start-end/size`;
 * - `unsatisfiable`: 416 with `Content-Range: bytes * /size` (no space).
 */
export type ByteRangeAnswer =
  | { readonly kind: 'full' }
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

const SINGLE_RANGE = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/** Decides how to answer `Range: <header>` for a representation of `size` bytes. */
export function parseByteRange(header: string | undefined, size: number): ByteRangeAnswer {
  if (header === undefined) return { kind: 'full' };
  const m = SINGLE_RANGE.exec(header.trim());
  if (!m) return { kind: 'full' };
  const [, first, last] = m;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    // bytes=-n: the last n bytes.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  // bytes=a-b with b < a is an invalid range-spec: the header is ignored.
  if (last !== '' && Number(last) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { kind: 'partial', start, end };
}
