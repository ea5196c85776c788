/**
 * Property tests of the createImage body (parseCreateImageBody) with fast-check:
 *   1. for any JSON body it either returns a valid request or throws ValidationError /
 *      QuotaExceededError, never anything else;
 *   2. it accepts exactly what a small, independently written model of Nova's rules accepts
 *      (nova/api/validation/parameter_types.py `name` and `metadata`, the createImage schema
 *      of nova/api/openstack/compute/schemas/servers.py, and the 128-item metadata quota).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCreateImageBody } from '../../src/commands/create-image.validation';
import { QuotaExceededError, ValidationError } from '../../src/domain/domain-errors';

type Verdict = 'accepted' | 'invalid' | 'over-quota';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Nova's printable characters, stated positively as its docstring does: letters, marks,
 * numbers, punctuation, symbols and (horizontal) space separators, from the Basic
 * Multilingual Plane only (Nova builds its character ranges over range(0xFFFF)).
 */
function novaPrintable(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  return cp < 0xffff && /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]$/u.test(ch);
}

/** Nova's name: 1..255 characters, all printable, not starting or ending with a space. */
function novaName(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const chars = Array.from(value);
  if (chars.length < 1 || chars.length > 255) return false;
  if (!chars.every(novaPrintable)) return false;
  return !/\p{Zs}/u.test(chars[0]!) && !/\p{Zs}/u.test(chars.at(-1)!);
}

const METADATA_KEY_CHARS = new Set(
  'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:. ',
);

/** Nova's metadata: string → string, keys of 1..255 of [a-zA-Z0-9-_:. ], values ≤ 255. */
function novaMetadata(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  return Object.entries(value).every(
    ([key, v]) =>
      key.length >= 1 &&
      key.length <= 255 &&
      Array.from(key).every((c) => METADATA_KEY_CHARS.has(c)) &&
      typeof v === 'string' &&
      Array.from(v).length <= 255,
  );
}

/** The model: what Nova answers to a createImage body, before it looks at the instance. */
function novaVerdict(body: unknown, metadataQuota: boolean): Verdict {
  if (!isPlainObject(body)) return 'invalid';
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'createImage') return 'invalid';
  const entity = body['createImage'];
  if (!isPlainObject(entity)) return 'invalid';
  if (!Object.keys(entity).every((k) => k === 'name' || k === 'metadata')) return 'invalid';
  if (!('name' in entity) || !novaName(entity['name'])) return 'invalid';
  if ('metadata' in entity && !novaMetadata(entity['metadata'])) return 'invalid';
  const items = 'metadata' in entity ? Object.keys(entity['metadata'] as object).length : 0;
  return metadataQuota && items > 128 ? 'over-quota' : 'accepted';
}

/** What the product answers, classified; anything else thrown fails the property. */
function productVerdict(body: unknown, metadataQuota: boolean): Verdict {
  try {
    const request = parseCreateImageBody(body, { metadataQuota });
    // A returned request is a valid one, whatever the model says.
    expect(novaName(request.name)).toBe(true);
    expect(novaMetadata(request.metadata)).toBe(true);
    if (metadataQuota) expect(Object.keys(request.metadata).length).toBeLessThanOrEqual(128);
    return 'accepted';
  } catch (error) {
    if (error instanceof QuotaExceededError) return 'over-quota';
    if (error instanceof ValidationError) return 'invalid';
    throw error;
  }
}

/** Characters that sit on the rules' edges, mixed with arbitrary ones. */
const edgeChar = fc.constantFrom(
  ' ',
  '\u00a0', // no-break space (Zs: printable, but not first or last)
  '\u3000', // ideographic space (Zs)
  '\t',
  '\n',
  '\u0000',
  '\u007f',
  '\u200b', // zero width space (Cf)
  '\u2028', // line separator (Zl)
  '\ufeff', // BOM (Cf)
  '\ue000', // private use (Co)
  '\ufffd',
  '\uffff', // not a character (Cn)
  'é',
  '€', // 3-byte UTF-8, printable
  '日',
  '😀', // outside the BMP
  '\u0301', // combining mark (Mn)
  '/',
  '.',
  'a',
  'Z',
  '7',
  '-',
  '_',
  ':',
);
const anyChar = fc.oneof(
  edgeChar,
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
);
const text = (max: number) =>
  fc.oneof(
    fc.array(anyChar, { maxLength: max }).map((cs) => cs.join('')),
    fc.string({ unit: 'grapheme', maxLength: max }),
  );
/** Lengths around 255 and 256, where the limits are. */
const longText = fc.tuple(fc.integer({ min: 250, max: 260 }), anyChar).map(([n, c]) => c.repeat(n));
const keyChar = fc.constantFrom(...'aZ09-_:. /é\u0000'.split(''));
const metadataKey = fc.oneof(
  fc.array(keyChar, { minLength: 0, maxLength: 8 }).map((cs) => cs.join('')),
  fc.integer({ min: 254, max: 256 }).map((n) => 'k'.repeat(n)),
  text(6),
);
const jsonLeaf = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const metadataValue = fc.oneof(
  { weight: 4, arbitrary: text(10) },
  { weight: 1, arbitrary: longText },
  { weight: 1, arbitrary: jsonLeaf },
  { weight: 1, arbitrary: fc.array(fc.string(), { maxLength: 2 }) },
);
const smallMetadata = fc.dictionary(metadataKey, metadataValue, { maxKeys: 6 });
/** 126..131 valid items: on both sides of the quota. */
const bigMetadata = fc
  .integer({ min: 126, max: 131 })
  .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`key-${i}`, `v${i}`])));
const nameValue = fc.oneof(
  { weight: 5, arbitrary: text(12) },
  { weight: 2, arbitrary: longText },
  { weight: 1, arbitrary: jsonLeaf },
);

/** A body shaped like a createImage request, with mistakes of every kind mixed in. */
const createImageLike = fc
  .record(
    {
      name: nameValue,
      metadata: fc.oneof(
        { weight: 4, arbitrary: smallMetadata },
        { weight: 1, arbitrary: bigMetadata },
        { weight: 1, arbitrary: jsonLeaf },
      ),
      extra: fc.dictionary(fc.constantFrom('server', 'Name', 'meta', 'rotation'), jsonLeaf, {
        maxKeys: 1,
      }),
    },
    { requiredKeys: [] },
  )
  .chain((entity) =>
    fc
      .constantFrom('createImage', 'createImage', 'createImage', 'createBackup', 'CreateImage')
      .chain((action) =>
        fc.oneof(
          { weight: 8, arbitrary: fc.constant({ [action]: stripExtra(entity) }) },
          {
            weight: 1,
            arbitrary: fc.constant({ [action]: stripExtra(entity), other: {} }),
          },
          { weight: 1, arbitrary: fc.constant({ [action]: [stripExtra(entity)] }) },
        ),
      ),
  );

function stripExtra(entity: {
  name?: unknown;
  metadata?: unknown;
  extra?: Record<string, unknown>;
}): Record<string, unknown> {
  const { extra, ...rest } = entity;
  return { ...rest, ...extra };
}

/** Mostly valid bodies, so that acceptance is exercised as much as refusal. */
const printableChar = fc.constantFrom(...'abcXYZ019 -_.:/€日é\u00a0\u0301'.split(''));
const nearlyValid = fc
  .record({
    name: fc.array(printableChar, { minLength: 1, maxLength: 20 }).map((cs) => cs.join('')),
    metadata: fc.oneof(
      {
        weight: 5,
        arbitrary: fc.dictionary(
          fc.array(keyChar, { minLength: 1, maxLength: 6 }).map((cs) => cs.join('')),
          fc.string({ maxLength: 12 }),
          { maxKeys: 4 },
        ),
      },
      { weight: 1, arbitrary: bigMetadata },
    ),
  })
  .map((entity) => ({ createImage: entity }));

/** Any JSON at all, as it would arrive on the wire (parsed, so `__proto__` is an own key). */
const anyJsonBody = fc.json({ maxDepth: 4 }).map((s) => JSON.parse(s) as unknown);

const RUNS = 3000;

describe('parseCreateImageBody, property-based', () => {
  it('returns a valid request or throws ValidationError/QuotaExceededError, for any JSON', () => {
    fc.assert(
      fc.property(
        fc.oneof(anyJsonBody, createImageLike, nearlyValid),
        fc.boolean(),
        (body, quota) => {
          productVerdict(body, quota);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('accepts exactly what the model of Nova accepts', () => {
    const seen: Record<Verdict, number> = { accepted: 0, invalid: 0, 'over-quota': 0 };
    fc.assert(
      fc.property(
        fc.oneof(anyJsonBody, createImageLike, nearlyValid),
        fc.boolean(),
        (body, quota) => {
          const expected = novaVerdict(body, quota);
          seen[expected] += 1;
          expect(productVerdict(body, quota)).toBe(expected);
        },
      ),
      { numRuns: RUNS },
    );
    // The generators reach every outcome, so the comparison is not vacuous.
    expect(seen.accepted).toBeGreaterThan(RUNS / 20);
    expect(seen.invalid).toBeGreaterThan(RUNS / 5);
    expect(seen['over-quota']).toBeGreaterThan(0);
  });

  it('agrees with the model on the named edge cases', () => {
    const cases: [unknown, Verdict][] = [
      [{ createImage: { name: 'a'.repeat(255) } }, 'accepted'],
      [{ createImage: { name: 'a'.repeat(256) } }, 'invalid'],
      [{ createImage: { name: '' } }, 'invalid'],
      [{ createImage: { name: ' lead' } }, 'invalid'],
      [{ createImage: { name: 'trail ' } }, 'invalid'],
      [{ createImage: { name: 'in side' } }, 'accepted'],
      [{ createImage: { name: 'tab\there' } }, 'invalid'],
      [{ createImage: { name: 'emoji 😀' } }, 'invalid'],
      [{ createImage: { name: 'euro € 日本' } }, 'accepted'],
      [{ createImage: { name: 'n', metadata: { '': '' } } }, 'invalid'],
      [{ createImage: { name: 'n', metadata: { ['k'.repeat(256)]: 'v' } } }, 'invalid'],
      [{ createImage: { name: 'n', metadata: { k: 'v'.repeat(256) } } }, 'invalid'],
      [{ createImage: { name: 'n', metadata: { k: 1 } } }, 'invalid'],
      [{ createImage: { name: '../../etc/passwd' } }, 'accepted'],
      [{ createImage: { name: 'n', metadata: { '../x': 'v' } } }, 'invalid'],
    ];
    for (const [body, verdict] of cases) {
      expect(novaVerdict(body, true), JSON.stringify(body).slice(0, 80)).toBe(verdict);
      expect(productVerdict(body, true), JSON.stringify(body).slice(0, 80)).toBe(verdict);
    }
  });
});
