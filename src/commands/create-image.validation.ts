import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { QuotaExceededError, ValidationError } from '../domain/domain-errors';

/** Nova's limit on image metadata items (the metadata_items quota default). */
export const MAX_IMAGE_METADATA_ITEMS = 128;

/**
 * Nova's `name` format (nova/api/validation/parameter_types.py): every character is a
 * printable BMP character (no Unicode "C" categories, no line or paragraph separators),
 * and the first and last are not spaces.
 */
export function isValidNovaName(value: string): boolean {
  for (const ch of value) {
    const cp = ch.codePointAt(0) as number;
    if (cp > 0xffff) return false;
    if (/[\p{C}\p{Zl}\p{Zp}]/u.test(ch)) return false;
  }
  const first = [...value][0];
  const last = [...value].at(-1);
  const isSpace = (c: string | undefined) => c !== undefined && /[\p{Zs}\s]/u.test(c);
  return !isSpace(first) && !isSpace(last);
}

/** Nova's parameter_types.name. */
export const nameSchema = { type: 'string', minLength: 1, maxLength: 255, format: 'name' } as const;
/** Nova's parameter_types.metadata (image metadata of createImage and createBackup). */
export const metadataSchema = {
  type: 'object',
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } },
  additionalProperties: false,
} as const;

/** Nova's schema for the createImage server action. */
export const createImageSchema = {
  type: 'object',
  properties: {
    createImage: {
      type: 'object',
      properties: {
        name: nameSchema,
        metadata: metadataSchema,
        incremental: { type: 'boolean' },
      },
      required: ['name'],
      additionalProperties: false,
    },
  },
  required: ['createImage'],
  additionalProperties: false,
} as const;

// Union types: Nova's integer parameters accept a string of digits too.
const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true, unicodeRegExp: true });
ajv.addFormat('name', { type: 'string', validate: isValidNovaName });

/** Compiles a server-action body schema with Nova's formats (`name`). */
export function compileNovaSchema<T>(schema: object): ValidateFunction<T> {
  return ajv.compile<T>(schema);
}

/** Throws Nova's 400 (ValidationError, with Nova's wording) unless `body` fits the schema. */
export function assertValidNovaBody<T>(
  validate: ValidateFunction<T>,
  body: unknown,
): asserts body is T {
  if (!validate(body)) throw new ValidationError(describeError(body, validate.errors?.[0]));
}

/**
 * Nova's image metadata quota: 403 over 128 items. Nova checks it up to microversion 2.38
 * only (the image-metadata proxy's last), for createImage and createBackup alike.
 */
export function checkImageMetadataQuota(
  metadata: Readonly<Record<string, string>>,
  enabled: boolean | undefined,
): void {
  if (enabled !== false && Object.keys(metadata).length > MAX_IMAGE_METADATA_ITEMS) {
    throw new QuotaExceededError('Image metadata limit exceeded');
  }
}

const validateCreateImageBody = compileNovaSchema<{
  createImage: { name: string; metadata?: Record<string, string>; incremental?: boolean };
}>(createImageSchema);

export interface CreateImageRequest {
  readonly name: string;
  readonly metadata: Readonly<Record<string, string>>;
  /**
   * snapledger's extension: store only what changed since the instance's newest incremental
   * snapshot (a layer in its chain), when true.
   */
  readonly incremental: boolean;
}

/**
 * Validates a createImage action body as Nova does, with Nova's wording:
 * "Invalid input for field/attribute <field>. Value: <value>. <detail>".
 */
export function parseCreateImageBody(
  body: unknown,
  options: { readonly metadataQuota?: boolean } = {},
): CreateImageRequest {
  assertValidNovaBody(validateCreateImageBody, body);
  const entity = body.createImage;
  const metadata = entity.metadata ?? {};
  checkImageMetadataQuota(metadata, options.metadataQuota);
  return { name: entity.name, metadata, incremental: entity.incremental === true };
}

/**
 * Nova's wording (nova/api/validation/validators.py): an invalid name gets the name rule
 * alone; an error inside the body names the last path element and its value; an error at
 * the top of the body is the bare schema message.
 */
function describeError(body: unknown, error: ErrorObject | undefined): string {
  if (!error) return 'Invalid input.';
  if (error.keyword === 'format') {
    return "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.";
  }
  const segments = error.instancePath.split('/').filter(Boolean);
  let value: unknown = body;
  for (const s of segments) value = (value as Record<string, unknown> | undefined)?.[s];
  const shown = typeof value === 'string' ? value : jsonText(value);
  let detail: string;
  switch (error.keyword) {
    case 'type': {
      // jsonschema lists every allowed type: 1.5 is not of type 'integer', 'string'
      const types = (error.params as { type: string | string[] }).type;
      const list = (Array.isArray(types) ? types : [types]).map((t) => `'${t}'`).join(', ');
      detail = `${pythonRepr(value)} is not of type ${list}`;
      break;
    }
    case 'pattern':
      detail = `${pythonRepr(value)} does not match '${(error.params as { pattern: string }).pattern}'`;
      break;
    case 'minimum':
      detail = `${pythonRepr(value)} is less than the minimum of ${(error.params as { limit: number }).limit}`;
      break;
    case 'additionalProperties':
      detail = `Additional properties are not allowed ('${(error.params as { additionalProperty: string }).additionalProperty}' was unexpected)`;
      break;
    case 'required':
      detail = `'${(error.params as { missingProperty: string }).missingProperty}' is a required property`;
      break;
    case 'minLength':
      detail = `'${shown}' is too short`;
      break;
    case 'maxLength':
      detail = `'${shown}' is too long`;
      break;
    default:
      detail = error.message ?? 'is invalid';
  }
  const field = segments.at(-1);
  return field === undefined
    ? detail
    : `Invalid input for field/attribute ${field}. Value: ${shown}. ${detail}`;
}

/** How Python's repr() shows a JSON value, as jsonschema's messages do. */
function pythonRepr(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (value === null) return 'None';
  return jsonText(value);
}

/**
 * JSON text of a value from a request body, for an error message. A body nested thousands of
 * levels deep parses, but JSON.stringify of it overflows the stack: it is not shown then.
 */
function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch (error) {
    if (error instanceof RangeError) return '(a value nested too deeply to show)';
    throw error;
  }
}
