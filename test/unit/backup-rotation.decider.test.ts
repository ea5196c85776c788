import { describe, expect, it } from 'vitest';
import { backupsToRotate, rotationGroupOf } from '../../src/domain/backup-rotation.decider';
import type { ImageReserved } from '../../src/events';

const b = (imageId: string, reservedAt: number) => ({ imageId, reservedAt });
const ids = (list: { imageId: string }[]) => list.map((x) => x.imageId);

describe('backupsToRotate', () => {
  const three = [b('second', 20), b('oldest', 10), b('newest', 30)];

  it('given three backups and rotation 2, when decided, then only the oldest goes', () => {
    expect(ids(backupsToRotate(three, 2))).toEqual(['oldest']);
  });
  it('given three backups and rotation 1, when decided, then all but the newest go, oldest first', () => {
    expect(ids(backupsToRotate(three, 1))).toEqual(['oldest', 'second']);
  });
  it('given backups within the rotation, when decided, then nothing goes', () => {
    expect(backupsToRotate(three, 3)).toEqual([]);
    expect(backupsToRotate(three, 50)).toEqual([]);
  });
  it("given rotation 0, when decided, then every backup goes, the new one included (Nova's rule)", () => {
    expect(ids(backupsToRotate(three, 0))).toEqual(['oldest', 'second', 'newest']);
  });
  it('given no backups, when decided, then nothing goes', () => {
    expect(backupsToRotate([], 0)).toEqual([]);
  });
  it('given a negative or non-finite rotation, when decided, then nothing goes', () => {
    expect(backupsToRotate(three, -1)).toEqual([]);
    expect(backupsToRotate(three, Number.NaN)).toEqual([]);
  });
  it('given the input, when decided, then the input is left unsorted', () => {
    const input = [...three];
    backupsToRotate(input, 1);
    expect(input).toEqual(three);
  });
});

describe('rotationGroupOf', () => {
  const reserved = (properties: Record<string, string>): ImageReserved['data'] => ({
    imageId: 'img',
    name: 'n',
    instanceId: 'vm',
    projectId: 'p1',
    userId: 'u',
    imageType: 'backup',
    properties,
  });
  it('given backup properties, when grouped, then the group is project, instance_uuid and backup_type', () => {
    expect(
      rotationGroupOf(
        reserved({ image_type: 'backup', backup_type: 'daily', instance_uuid: 'vm' }),
      ),
    ).toEqual({ projectId: 'p1', instanceUuid: 'vm', backupType: 'daily' });
  });
  it('given a snapshot, when grouped, then it is in no rotation group', () => {
    expect(
      rotationGroupOf(
        reserved({ image_type: 'snapshot', backup_type: 'daily', instance_uuid: 'vm' }),
      ),
    ).toBeNull();
  });
  it('given a backup with no backup_type property, when grouped, then it is in no rotation group', () => {
    expect(rotationGroupOf(reserved({ image_type: 'backup', instance_uuid: 'vm' }))).toBeNull();
  });
});
