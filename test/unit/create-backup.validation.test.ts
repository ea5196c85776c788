import { describe, expect, it } from 'vitest';
import { parseCreateBackupBody } from '../../src/commands/create-backup.validation';
import { QuotaExceededError, ValidationError } from '../../src/domain/domain-errors';

const PREFIX = 'Invalid input for field/attribute';

function backup(fields: Record<string, unknown>): unknown {
  return { createBackup: { name: 'Backup 1', backup_type: 'daily', rotation: 1, ...fields } };
}

function without(field: string): unknown {
  const entity: Record<string, unknown> = { name: 'Backup 1', backup_type: 'daily', rotation: 1 };
  delete entity[field];
  return { createBackup: entity };
}

function rejection(body: unknown): Error {
  try {
    parseCreateBackupBody(body);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`expected ${JSON.stringify(body)} to be rejected`);
}

function validationMessage(body: unknown): string {
  const error = rejection(body);
  expect(error).toBeInstanceOf(ValidationError);
  return error.message;
}

describe("parseCreateBackupBody: Nova's accepted bodies", () => {
  it('given name, backup_type, rotation and metadata, when parsed, then each is returned', () => {
    expect(parseCreateBackupBody(backup({ metadata: { '123': 'asdf' } }))).toEqual({
      name: 'Backup 1',
      backupType: 'daily',
      rotation: 1,
      metadata: { '123': 'asdf' },
    });
  });
  it('given rotation as a string of digits, when parsed, then it is the integer (Nova: int())', () => {
    expect(parseCreateBackupBody(backup({ rotation: '12' })).rotation).toBe(12);
  });
  it('given rotation 0, when parsed, then it is accepted', () => {
    expect(parseCreateBackupBody(backup({ rotation: 0 })).rotation).toBe(0);
  });
  it('given any backup_type string, even empty, when parsed, then it is accepted as given', () => {
    expect(parseCreateBackupBody(backup({ backup_type: '' })).backupType).toBe('');
    expect(parseCreateBackupBody(backup({ backup_type: 'weekly' })).backupType).toBe('weekly');
  });
  it('given no metadata, when parsed, then metadata is empty', () => {
    expect(parseCreateBackupBody(backup({})).metadata).toEqual({});
  });
});

describe("parseCreateBackupBody: Nova's 400s (test_create_backup_*)", () => {
  it.each(['name', 'backup_type', 'rotation'])(
    'given no %s, when parsed, then it is a required property of createBackup',
    (field) => {
      const message = validationMessage(without(field));
      expect(message).toMatch(new RegExp(`^${PREFIX} createBackup\\. Value: `));
      expect(message.endsWith(`'${field}' is a required property`)).toBe(true);
    },
  );
  it('given a negative rotation, when parsed, then the message is the minimum rule', () => {
    expect(validationMessage(backup({ rotation: -1 }))).toBe(
      `${PREFIX} rotation. Value: -1. -1 is less than the minimum of 0`,
    );
  });
  it('given a negative rotation as a string, when parsed, then the message is the pattern rule', () => {
    expect(validationMessage(backup({ rotation: '-1' }))).toBe(
      `${PREFIX} rotation. Value: -1. '-1' does not match '^[0-9]*$'`,
    );
  });
  it('given an empty rotation string, when parsed, then it is too short', () => {
    expect(validationMessage(backup({ rotation: '' }))).toBe(
      `${PREFIX} rotation. Value: . '' is too short`,
    );
  });
  it.each([1.5, true, null, [1], { n: 1 }])(
    'given rotation %j, when parsed, then it is not of the integer or string type',
    (rotation) => {
      expect(validationMessage(backup({ rotation }))).toMatch(
        new RegExp(`^${PREFIX} rotation\\. Value: .*is not of type 'integer', 'string'$`),
      );
    },
  );
  it('given a backup_type that is not a string, when parsed, then it is rejected', () => {
    expect(validationMessage(backup({ backup_type: 7 }))).toBe(
      `${PREFIX} backup_type. Value: 7. 7 is not of type 'string'`,
    );
  });
  it('given metadata that is not an object, when parsed, then it is rejected', () => {
    expect(validationMessage(backup({ metadata: 'non_dict' }))).toBe(
      `${PREFIX} metadata. Value: non_dict. 'non_dict' is not of type 'object'`,
    );
  });
  it("given a metadata key outside Nova's pattern, when parsed, then it is rejected", () => {
    expect(validationMessage(backup({ metadata: { 'a/b': 'x' } }))).toContain('was unexpected');
  });
  it('given a metadata value over 255 characters, when parsed, then it is too long', () => {
    expect(validationMessage(backup({ metadata: { k: 'x'.repeat(256) } }))).toContain(
      'is too long',
    );
  });
  it('given a name with leading and trailing spaces, when parsed, then the name rule is given (2.1)', () => {
    expect(validationMessage(backup({ name: '  test  ' }))).toBe(
      "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.",
    );
  });
  it('given an unknown key in createBackup, when parsed, then additional properties are refused', () => {
    expect(validationMessage(backup({ description: 'x' }))).toBe(
      `${PREFIX} createBackup. Value: ${JSON.stringify({ name: 'Backup 1', backup_type: 'daily', rotation: 1, description: 'x' })}. Additional properties are not allowed ('description' was unexpected)`,
    );
  });
  it('given createBackup that is not an object, when parsed, then it is rejected', () => {
    expect(validationMessage({ createBackup: 'go' })).toBe(
      `${PREFIX} createBackup. Value: go. 'go' is not of type 'object'`,
    );
  });
  it('given a misspelt action key, when parsed, then createBackup is required', () => {
    expect(
      validationMessage({ createBackupup: { name: 'a', backup_type: 'daily', rotation: 1 } }),
    ).toBe("'createBackup' is a required property");
  });
});

describe('parseCreateBackupBody: the metadata quota', () => {
  const many = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
  it('given 129 metadata items up to 2.38, when parsed, then the quota is exceeded (403)', () => {
    expect(rejection(backup({ metadata: many }))).toBeInstanceOf(QuotaExceededError);
  });
  it('given 129 metadata items from 2.39, when parsed, then there is no quota check', () => {
    expect(
      Object.keys(
        parseCreateBackupBody(backup({ metadata: many }), { metadataQuota: false }).metadata,
      ),
    ).toHaveLength(129);
  });
});

describe('parseCreateBackupBody: a body nested too deeply to show', () => {
  it('given a rotation nested 20,000 lists deep, when parsed, then it is a 400 naming rotation', () => {
    const deep = JSON.parse(`${'['.repeat(20_000)}${']'.repeat(20_000)}`) as unknown;
    const body = { createBackup: { name: 'b', backup_type: 'daily', rotation: deep } };
    const error = (() => {
      try {
        parseCreateBackupBody(body);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(
      /^Invalid input for field\/attribute rotation\. Value: \(a value nested too deeply to show\)\./,
    );
  });
});
