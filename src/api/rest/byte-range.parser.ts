/**
 * What to send for a download, given its `Range` header, as Glance answers it
 * (glance/common/wsgi.py get_range_from_request, over webob's Range.parse):
 * - `full`: the whole body, 200 (no Range header);
 * - `partial`: bytes `start`..`end` inclusive, 206 with `Content-Range: bytes start-end/size`;
 * - `unsatisfiable`: 416 with `Content-Range: bytes * /size` (no space): the range starts at
 *   or past the end;
 * - `invalid`: 416 "Invalid Range header.": not one `bytes=` range (another unit, a malformed
 *   value, a last byte before the first);
 * - `multiple`: 400: several ranges, which Glance does not serve.
 */
export type ByteRangeAnswer =
  | { readonly kind: 'full' }
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'multiple' };

const SINGLE_RANGE = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/** Decides how to answer `Range: <header>` for a representation of `size` bytes. */
export function parseByteRange(header: string | undefined, size: number): ByteRangeAnswer {
  if (header === undefined) return { kind: 'full' };
  if (header.includes(',')) return { kind: 'multiple' };
  const m = SINGLE_RANGE.exec(header.trim());
  if (!m) return { kind: 'invalid' };
  const [, first, last] = m;
  if (first === '' && last === '') return { kind: 'invalid' };
  if (first === '') {
    // bytes=-n: the last n bytes.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  // bytes=a-b with b < a is an invalid range-spec.
  if (last !== '' && Number(last) < start) return { kind: 'invalid' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { kind: 'partial', start, end };
}
