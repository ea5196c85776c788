import { describe, expect, it } from 'vitest';
import {
  MAX_IMAGE_METADATA_ITEMS,
  isValidNovaName,
  parseCreateImageBody,
} from '../../src/commands/create-image.validation';
import { QuotaExceededError, ValidationError } from '../../src/domain/domain-errors';

const NOVA_PREFIX = 'Invalid input for field/attribute';
const NOVA_INVALID_NAME =
  "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.";
/** Nova's three message forms (nova/api/validation/validators.py). */
const NOVA_MESSAGE = new RegExp(
  `^(${NOVA_PREFIX} [^ /]+\\. Value: .*|${NOVA_INVALID_NAME.replace(/[.()]/g, '\\$&')}|'\\w+' is a required property|Additional properties are not allowed .*|.* is not of type '\\w+')$`,
  's',
);

/** The error thrown by parsing `body`, or a failure if nothing is thrown. */
function errorOf(body: unknown): Error {
  try {
    parseCreateImageBody(body);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`expected ${JSON.stringify(body)} to be rejected`);
}

function expectValidationError(body: unknown): ValidationError {
  const error = errorOf(body);
  expect(error).toBeInstanceOf(ValidationError);
  expect(error.message).toMatch(NOVA_MESSAGE);
  return error as ValidationError;
}

describe("parseCreateImageBody: Nova's message forms", () => {
  it("given a name with a leading space, when parsed, then the message is Nova's name rule alone", () => {
    expect(expectValidationError(withName(' snap')).message).toBe(NOVA_INVALID_NAME);
  });
  it('given a name of the wrong type, when parsed, then the message names the last path element and the value', () => {
    expect(expectValidationError(withName(42)).message).toBe(
      `${NOVA_PREFIX} name. Value: 42. 42 is not of type 'string'`,
    );
  });
  it('given an unknown top-level key, when parsed, then the message is the bare schema message', () => {
    expect(expectValidationError({ createImage: { name: 'a' }, x: 1 }).message).toBe(
      "Additional properties are not allowed ('x' was unexpected)",
    );
  });
});

const withName = (name: unknown) => ({ createImage: { name } });
const withMetadata = (metadata: unknown) => ({ createImage: { name: 'snap', metadata } });
const manyItems = (count: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`key-${i}`, `value-${i}`]));

describe('parseCreateImageBody: a valid body', () => {
  it('given a name and metadata, when parsed, then both are returned as given', () => {
    expect(
      parseCreateImageBody({
        createImage: {
          name: 'nightly backup',
          metadata: { purpose: 'test', 'os:distro': 'debian' },
        },
      }),
    ).toEqual({
      name: 'nightly backup',
      metadata: { purpose: 'test', 'os:distro': 'debian' },
      incremental: false,
    });
  });

  it('given a name and no metadata, when parsed, then metadata is an empty object', () => {
    expect(parseCreateImageBody(withName('snap'))).toEqual({
      name: 'snap',
      metadata: {},
      incremental: false,
    });
  });

  it("given snapledger's incremental extension, when parsed, then it is returned, and only a boolean is accepted", () => {
    expect(
      parseCreateImageBody({ createImage: { name: 'snap', incremental: true } }).incremental,
    ).toBe(true);
    expect(() =>
      parseCreateImageBody({ createImage: { name: 'snap', incremental: 'yes' } }),
    ).toThrow(
      "Invalid input for field/attribute incremental. Value: yes. 'yes' is not of type 'boolean'",
    );
  });

  it('given empty metadata, when parsed, then it is accepted', () => {
    expect(parseCreateImageBody(withMetadata({})).metadata).toEqual({});
  });
});

describe('parseCreateImageBody: name length', () => {
  it.each([1, 255])('given a name of %i characters, when parsed, then it is accepted', (length) => {
    const name = 'a'.repeat(length);
    expect(parseCreateImageBody(withName(name)).name).toBe(name);
  });

  it.each([0, 256])(
    'given a name of %i characters, when parsed, then a ValidationError is thrown',
    (length) => {
      const error = expectValidationError(withName('a'.repeat(length)));
      expect(error.message).toMatch(/field\/attribute (createImage\/)?name\./);
    },
  );

  it('given a name of 255 three-byte characters, when parsed, then length counts characters not bytes', () => {
    const name = '名'.repeat(255);
    expect(parseCreateImageBody(withName(name)).name).toBe(name);
    expectValidationError(withName('名'.repeat(256)));
  });
});

describe('parseCreateImageBody: name characters', () => {
  it.each([' snap', 'snap ', ' ', '\u00a0snap', 'snap\u3000'])(
    'given the name %j with leading or trailing whitespace, when parsed, then it is rejected',
    (name) => {
      const error = expectValidationError(withName(name));
      expect(error.message).toContain('Can not start or end with whitespace');
    },
  );

  it('given a name with inner spaces, when parsed, then it is accepted', () => {
    expect(parseCreateImageBody(withName('my  nightly snap')).name).toBe('my  nightly snap');
  });

  it.each(['a\u0000b', 'a\nb', 'a\tb', 'snap\n', '\u007f', 'a\u200bb', 'a\u2028b', 'a\u2029b'])(
    'given the name %j with a control, format or line-separator character, when parsed, then it is rejected',
    (name) => {
      const error = expectValidationError(withName(name));
      expect(error.message).toContain('printable characters');
    },
  );

  it.each(['名前', '€', 'Ünïcödé snap', 'снимок', 'a-b_c.d:e/f'])(
    'given the printable BMP name %j, when parsed, then it is accepted',
    (name) => {
      expect(parseCreateImageBody(withName(name)).name).toBe(name);
    },
  );

  it.each(['😀', 'snap 😀', '𝒜bc'])(
    'given the name %j with an astral-plane character, when parsed, then it is rejected as Nova does',
    (name) => {
      expectValidationError(withName(name));
    },
  );

  it('given a lone surrogate, when checked, then it is not a valid name', () => {
    expect(isValidNovaName('a\ud800b')).toBe(false);
  });
});

describe('parseCreateImageBody: body shape', () => {
  it("given no name, when parsed, then Nova's required-property message is given", () => {
    const error = expectValidationError({ createImage: {} });
    expect(error.message).toContain("'name' is a required property");
  });

  it('given no createImage key, when parsed, then a ValidationError is thrown', () => {
    const error = expectValidationError({});
    expect(error.message).toContain("'createImage' is a required property");
  });

  it.each([42, null, true, ['snap'], { text: 'snap' }])(
    'given the non-string name %j, when parsed, then a type error is thrown',
    (name) => {
      const error = expectValidationError(withName(name));
      expect(error.message).toContain("is not of type 'string'");
    },
  );

  it.each([null, 'createImage', [], 7])(
    'given the non-object body %j, when parsed, then a ValidationError is thrown',
    (body) => {
      expectValidationError(body);
    },
  );

  it('given an unknown top-level key, when parsed, then it is rejected naming the key', () => {
    const error = expectValidationError({ createImage: { name: 'snap' }, extra: 1 });
    expect(error.message).toContain("'extra' was unexpected");
  });

  it('given an unknown key inside createImage, when parsed, then it is rejected naming the key', () => {
    const error = expectValidationError({ createImage: { name: 'snap', description: 'x' } });
    expect(error.message).toContain("'description' was unexpected");
  });
});

describe('parseCreateImageBody: metadata', () => {
  it('given an empty key, when parsed, then it is rejected', () => {
    expectValidationError(withMetadata({ '': '' }));
  });

  it('given keys with every allowed punctuation, when parsed, then they are accepted', () => {
    const metadata = { 'a-b_c:d. e': 'v', 'A9-': '' };
    expect(parseCreateImageBody(withMetadata(metadata)).metadata).toEqual(metadata);
  });

  it('given a key of 255 characters, when parsed, then it is accepted', () => {
    const metadata = { ['k'.repeat(255)]: 'v' };
    expect(parseCreateImageBody(withMetadata(metadata)).metadata).toEqual(metadata);
  });

  it('given a key of 256 characters, when parsed, then it is rejected', () => {
    expectValidationError(withMetadata({ ['k'.repeat(256)]: 'v' }));
  });

  it.each(['a/b', '../etc', 'ключ', 'a@b', 'tab\tkey'])(
    "given the key %j outside Nova's key pattern, when parsed, then it is rejected",
    (key) => {
      const error = expectValidationError(withMetadata({ [key]: 'v' }));
      expect(error.message).toContain('was unexpected');
    },
  );

  it('given a value of 255 characters, when parsed, then it is accepted', () => {
    const value = 'v'.repeat(255);
    expect(parseCreateImageBody(withMetadata({ key: value })).metadata.key).toBe(value);
  });

  it('given a value of 256 characters, when parsed, then it is rejected as too long', () => {
    const error = expectValidationError(withMetadata({ key: 'v'.repeat(256) }));
    expect(error.message).toContain('is too long');
    expect(error.message).toMatch(/field\/attribute (createImage\/metadata\/)?key\./);
  });

  it.each([1, true, null, { nested: 'x' }, ['x']])(
    'given the non-string value %j, when parsed, then it is rejected',
    (value) => {
      const error = expectValidationError(withMetadata({ key: value }));
      expect(error.message).toContain("is not of type 'string'");
    },
  );

  it('given a value nested 20,000 lists deep, when parsed, then it is a 400 that does not show it', () => {
    // JSON.parse takes it; JSON.stringify of it overflows the stack (a 500 before)
    const deep = JSON.parse(`${'['.repeat(20_000)}${']'.repeat(20_000)}`) as unknown;
    const inMetadata = expectValidationError(withMetadata({ key: deep }));
    expect(inMetadata.message).toContain('(a value nested too deeply to show)');
    expect(inMetadata.message).toContain("is not of type 'string'");
    expect(expectValidationError({ createImage: deep }).message).toBe(
      "Invalid input for field/attribute createImage. Value: (a value nested too deeply to show). (a value nested too deeply to show) is not of type 'object'",
    );
  });

  it.each(['a list', ['a', 'b'], 3])(
    'given metadata that is not an object (%j), when parsed, then it is rejected',
    (metadata) => {
      expectValidationError(withMetadata(metadata));
    },
  );

  it(`given ${MAX_IMAGE_METADATA_ITEMS} metadata items, when parsed, then they are accepted`, () => {
    expect(MAX_IMAGE_METADATA_ITEMS).toBe(128);
    const metadata = manyItems(128);
    expect(Object.keys(parseCreateImageBody(withMetadata(metadata)).metadata)).toHaveLength(128);
  });

  it('given 129 metadata items, when parsed, then QuotaExceededError "Image metadata limit exceeded" is thrown', () => {
    const error = errorOf(withMetadata(manyItems(129)));
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(error).not.toBeInstanceOf(ValidationError);
    expect(error.message).toBe('Image metadata limit exceeded');
  });

  it('given 129 metadata items and no quota check (compute 2.39 and later), when parsed, then they are accepted', () => {
    const parsed = parseCreateImageBody(withMetadata(manyItems(129)), { metadataQuota: false });
    expect(Object.keys(parsed.metadata)).toHaveLength(129);
  });

  it('given 129 items of which one is invalid, when parsed, then the validation error wins over the quota', () => {
    const metadata = { ...manyItems(128), 'bad/key': 'v' };
    expectValidationError(withMetadata(metadata));
  });
});

// Property-based tests of the same validation (fast-check) are in create-image.property.test.ts.
