import {
  assertValidNovaBody,
  checkImageMetadataQuota,
  compileNovaSchema,
  metadataSchema,
  nameSchema,
} from './create-image.validation';

/**
 * Nova's parameter_types.non_negative_integer: an integer, or a string of digits; jsonschema
 * applies `minimum` to numbers only and `pattern`/`minLength` to strings only.
 */
const nonNegativeIntegerSchema = {
  type: ['integer', 'string'],
  pattern: '^[0-9]*$',
  minimum: 0,
  minLength: 1,
} as const;

/**
 * Nova's schema for the createBackup server action (schemas/create_backup.py, from 2.1):
 * name, backup_type and rotation are required; backup_type is any string. One key of
 * snapledger's own is accepted besides: `incremental` (a boolean), which overrides the
 * instance's backup policy for this backup.
 */
export const createBackupSchema = {
  type: 'object',
  properties: {
    createBackup: {
      type: 'object',
      properties: {
        name: nameSchema,
        backup_type: { type: 'string' },
        rotation: nonNegativeIntegerSchema,
        metadata: metadataSchema,
        incremental: { type: 'boolean' },
      },
      required: ['name', 'backup_type', 'rotation'],
      additionalProperties: false,
    },
  },
  required: ['createBackup'],
  additionalProperties: false,
} as const;

const validateCreateBackupBody = compileNovaSchema<{
  createBackup: {
    name: string;
    backup_type: string;
    rotation: number | string;
    metadata?: Record<string, string>;
    incremental?: boolean;
  };
}>(createBackupSchema);

export interface CreateBackupRequest {
  readonly name: string;
  readonly backupType: string;
  /** How many backups of this type to keep; 0 keeps none (Nova deletes even the new one). */
  readonly rotation: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** snapledger's extension: ask for an incremental backup (true) or a whole one (false). */
  readonly incremental?: boolean;
}

/**
 * Validates a createBackup action body as Nova does (400 with Nova's wording), then the
 * metadata quota (403, up to microversion 2.38). `rotation` may be a string of digits, as
 * Nova's `int(entity["rotation"])` accepts.
 */
export function parseCreateBackupBody(
  body: unknown,
  options: { readonly metadataQuota?: boolean } = {},
): CreateBackupRequest {
  assertValidNovaBody(validateCreateBackupBody, body);
  const entity = body.createBackup;
  const metadata = entity.metadata ?? {};
  checkImageMetadataQuota(metadata, options.metadataQuota);
  return {
    name: entity.name,
    backupType: entity.backup_type,
    rotation: Number(entity.rotation),
    metadata,
    ...(entity.incremental === undefined ? {} : { incremental: entity.incremental }),
  };
}
