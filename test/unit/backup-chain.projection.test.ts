import { describe, it } from 'vitest';
import { backupChainStream, imageStream, type UploadedChainLayer } from '../../src/events';
import { AuditLogEntry } from '../../src/projections/entities/audit-log-entry.entity';
import { SnapshotHistory } from '../../src/projections/entities/snapshot-history.entity';
import { EventHistory, INSTANCE_ID as VM } from '../support/event-history';
import { row, useProjectionSpecification } from '../support/projection-specification';

const AT = '2025-01-01T10:00:00.000Z';
const ids = ['a', 'b', 'c', 'd'].map(
  (x) => `${x.repeat(8)}-0000-4000-8000-00000000000${'abcd'.indexOf(x) + 1}`,
);
const [A, B, C, D] = ids;

/** One backup of a chain, from its reservation to its Uploaded with the chain's data. */
function chainBackup(n: number, imageId: string, layer: UploadedChainLayer): EventHistory {
  const history = new EventHistory({
    imageId,
    at: AT,
    requestId: `req-${String(n).padStart(8, '0')}-0000-4000-8000-000000000001`,
  });
  if (n === 1) history.registered('running');
  return history
    .reserved(AT, { imageType: 'backup', backupType: 'daily', incremental: true })
    .event(imageStream(imageId), 'Uploaded', {
      imageId,
      size: 1000,
      virtualSize: 4096,
      checksum: 'c'.repeat(32),
      osHashAlgo: 'sha512',
      osHashValue: 'd'.repeat(128),
      diskFormat: 'qcow2',
      containerFormat: 'bare',
      startedAt: AT,
      durationMs: 10,
      store: 'local',
      chain: layer,
    });
}

const layer = (parent: string | null, length: number): UploadedChainLayer => ({
  chainId: A,
  kind: parent === null ? 'full' : 'incremental',
  parentImageId: parent,
  chainLength: length,
  bytesCopied: 100 * length,
  bytesStored: 200 * length,
});

describe('the history of a backup chain', () => {
  const spec = useProjectionSpecification('sqlite');
  const chain = () => [
    chainBackup(1, A, layer(null, 1)),
    chainBackup(2, B, layer(A, 2)),
    chainBackup(3, C, layer(B, 3)),
    chainBackup(4, D, layer(C, 4)),
  ];

  it('given four backups in a chain, then each row has its kind, parent, length and bytes', () =>
    spec.given(...chain()).then(
      row(SnapshotHistory, { imageId: A }, { backupKind: 'full', chainLength: 1 }),
      row(
        SnapshotHistory,
        { imageId: D },
        {
          backupKind: 'incremental',
          chainId: A,
          chainParentId: C,
          chainLength: 4,
          bytesCopied: 400,
          bytesStored: 800,
        },
      ),
    ));

  it('given a middle image merged away, then its child lies over its parent and the rest is one shorter', () => {
    const merged = new EventHistory({
      at: AT,
      requestId: 'req-00000009-0000-4000-8000-000000000001',
    }).event(backupChainStream(VM), 'LayerMerged', {
      instanceId: VM,
      removedImageId: B,
      childImageId: C,
      newParentImageId: A,
      childBytesStored: 999,
      checkpointDeleted: `snapledger-${B}`,
      startedAt: AT,
      durationMs: 7,
    });
    return spec.given(...chain(), merged).then(
      row(SnapshotHistory, { imageId: A }, { chainLength: 1 }),
      row(SnapshotHistory, { imageId: C }, { chainParentId: A, chainLength: 2, bytesStored: 999 }),
      row(SnapshotHistory, { imageId: D }, { chainParentId: C, chainLength: 3 }),
      row(
        AuditLogEntry,
        { type: 'LayerMerged' },
        {
          instanceId: VM,
          imageId: B,
          summary: `image ${B} merged into ${C} in 7 ms; checkpoint snapledger-${B} deleted`,
        },
      ),
    );
  });
});
