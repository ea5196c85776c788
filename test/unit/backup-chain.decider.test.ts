import { describe, expect, it } from 'vitest';
import {
  checkpointNameOf,
  planBackupChain,
  planChainRemoval,
  type ChainPlanFacts,
} from '../../src/domain/backup-chain.decider';
import {
  chainLengthOf,
  childOf,
  foldBackupChains,
  newestOfSeries,
  SNAPSHOT_SERIES,
} from '../../src/domain/backup-chain.state';
import { decideBackupPolicy } from '../../src/domain/backup-policy.decider';
import { InstanceNotFoundError } from '../../src/domain/domain-errors';
import { initialInstanceState } from '../../src/domain/instance.state';
import type { BackupChainEvent } from '../../src/events';

const VM = '11111111-1111-4111-8111-111111111111';

const added = (
  imageId: string,
  parentImageId: string | null,
  checkpoint: string | null = `snapledger-${imageId}`,
  backupType = 'daily',
): BackupChainEvent => ({
  type: 'ChainLayerAdded',
  data: {
    instanceId: VM,
    imageId,
    backupType,
    chainId: parentImageId === null ? imageId : 'root',
    parentImageId,
    checkpoint,
  },
});

const merged = (
  removedImageId: string,
  childImageId: string | null,
  newParentImageId: string | null,
): BackupChainEvent => ({
  type: 'LayerMerged',
  data: {
    instanceId: VM,
    removedImageId,
    childImageId,
    newParentImageId,
    childBytesStored: childImageId === null ? null : 1024,
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 5,
  },
});

const snapshotAdded = (imageId: string, parentImageId: string | null): BackupChainEvent => ({
  type: 'ChainLayerAdded',
  data: {
    instanceId: VM,
    imageId,
    backupType: SNAPSHOT_SERIES,
    imageType: 'snapshot',
    chainId: parentImageId === null ? imageId : 's-root',
    parentImageId,
    checkpoint: `snapledger-${imageId}`,
  },
});

/** root ← a ← b, one series. */
const chain = foldBackupChains([added('root', null), added('a', 'root'), added('b', 'a')]);

const DAILY = { imageType: 'backup', backupType: 'daily' } as const;
const SNAPSHOTS = { imageType: 'snapshot', backupType: SNAPSHOT_SERIES } as const;

const facts = (over: Partial<ChainPlanFacts> = {}): ChainPlanFacts => ({
  imageId: 'new',
  series: DAILY,
  chains: chain,
  running: true,
  diskFormat: 'qcow2',
  storeKind: 'local',
  newestUsable: () => ({ ok: true }),
  checkpoints: ['snapledger-root', 'snapledger-a', 'snapledger-b'],
  checkpointFault: null,
  ...over,
});

describe('backup chains (fold)', () => {
  it('given three layers, when folded, then lengths, children and the newest follow the parents', () => {
    expect(chainLengthOf(chain, 'b')).toBe(3);
    expect(chainLengthOf(chain, 'root')).toBe(1);
    expect(chainLengthOf(chain, 'unknown')).toBe(0);
    expect(childOf(chain, 'a')?.imageId).toBe('b');
    expect(childOf(chain, 'b')).toBeNull();
    expect(newestOfSeries(chain, DAILY)?.imageId).toBe('b');
    expect(newestOfSeries(chain, { imageType: 'backup', backupType: 'weekly' })).toBeNull();
  });

  it('given a middle layer merged away, when folded, then its child lies over its parent', () => {
    const after = foldBackupChains([
      added('root', null),
      added('a', 'root'),
      added('b', 'a'),
      merged('a', 'b', 'root'),
    ]);
    expect(after.members.has('a')).toBe(false);
    expect(after.members.get('b')?.parentImageId).toBe('root');
    expect(chainLengthOf(after, 'b')).toBe(2);
  });

  it('given a merge started and not finished, when folded, then the image is not the newest', () => {
    const started = foldBackupChains([
      added('root', null),
      added('a', 'root'),
      {
        type: 'LayerMergeStarted',
        data: { instanceId: VM, removedImageId: 'a', childImageId: null, newParentImageId: 'root' },
      },
    ]);
    expect(started.merging.has('a')).toBe(true);
    expect(newestOfSeries(started, DAILY)?.imageId).toBe('root');
  });

  it('given the same layer added twice, when folded, then it is kept once', () => {
    const twice = foldBackupChains([added('root', null), added('root', null)]);
    expect(twice.members.size).toBe(1);
    expect(twice.added).toBe(1);
  });
});

describe('planBackupChain', () => {
  it('given a running qcow2 domain and a usable checkpoint, when planned, then a backup job copies the blocks since it', () => {
    expect(planBackupChain(facts())).toEqual({
      method: 'backup-job',
      backupType: 'daily',
      chainId: 'root',
      parentImageId: 'b',
      parentChainLength: 3,
      parentCheckpoint: 'snapledger-b',
      checkpoint: checkpointNameOf('new'),
      fullReason: null,
    });
  });

  it('given a shut-off domain, when planned, then the layer is compared and inherits the parent checkpoint', () => {
    expect(planBackupChain(facts({ running: false, checkpoints: [] }))).toMatchObject({
      method: 'compare',
      parentImageId: 'b',
      parentCheckpoint: null,
      checkpoint: 'snapledger-b',
    });
  });

  it('given no chain yet, when planned, then a full backup starts one, live with a checkpoint, offline without', () => {
    const empty = foldBackupChains([]);
    expect(planBackupChain(facts({ chains: empty }))).toMatchObject({
      method: 'backup-job',
      chainId: 'new',
      parentImageId: null,
      checkpoint: 'snapledger-new',
      fullReason: 'no earlier backup of series "daily" to build on',
    });
    expect(planBackupChain(facts({ chains: empty, running: false }))).toMatchObject({
      method: 'convert',
      checkpoint: null,
    });
  });

  it('given each missing piece, when planned, then a full backup says which', () => {
    const reasons = [
      facts({ newestUsable: () => ({ ok: false, why: 'is deleted' }) }),
      facts({ checkpoints: ['snapledger-root'] }),
      facts({ checkpointFault: 'bitmap not found' }),
      facts({ chains: foldBackupChains([added('root', null, null)]) }),
    ].map((f) => {
      const plan = planBackupChain(f);
      return 'chained' in plan ? plan.reason : plan.fullReason;
    });
    expect(reasons).toEqual([
      'the newest backup b is deleted',
      'checkpoint snapledger-b is gone from libvirt (the domain was redefined, or its checkpoints were removed)',
      'checkpoint snapledger-b cannot be used (was the disk replaced?): bitmap not found',
      'the newest backup root was taken while the domain was shut off, and no checkpoint marks it',
    ]);
  });

  it('given the Glance store or a running raw disk, when planned, then no chain at all, and why', () => {
    expect(planBackupChain(facts({ storeKind: 'glance' }))).toEqual({
      chained: false,
      reason: 'the Glance image store keeps whole images only, so this backup is a whole image',
    });
    expect(planBackupChain(facts({ diskFormat: 'raw' }))).toMatchObject({ chained: false });
    // A shut-off raw disk is compared with its parent like any other.
    expect(planBackupChain(facts({ diskFormat: 'raw', running: false }))).toMatchObject({
      method: 'compare',
    });
  });

  it('given another series, when planned, then it does not build on this one', () => {
    expect(
      planBackupChain(facts({ series: { imageType: 'backup', backupType: 'weekly' } })),
    ).toMatchObject({
      parentImageId: null,
      chainId: 'new',
    });
  });

  it('given incremental snapshots and backups of the same instance, when planned, then each builds only on its own kind', () => {
    // A backup series named like the snapshots' series is still another series.
    const mixed = foldBackupChains([
      added('b-root', null, 'snapledger-b-root', SNAPSHOT_SERIES),
      snapshotAdded('s-root', null),
      snapshotAdded('s-1', 's-root'),
      added('b-1', 'b-root', 'snapledger-b-1', SNAPSHOT_SERIES),
    ]);
    expect(mixed.members.get('s-1')?.imageType).toBe('snapshot');
    expect(mixed.members.get('b-1')?.imageType).toBe('backup');
    const checkpoints = [
      'snapledger-b-root',
      'snapledger-b-1',
      'snapledger-s-root',
      'snapledger-s-1',
    ];
    expect(planBackupChain(facts({ chains: mixed, series: SNAPSHOTS, checkpoints }))).toEqual({
      method: 'backup-job',
      backupType: SNAPSHOT_SERIES,
      imageType: 'snapshot',
      chainId: 's-root',
      parentImageId: 's-1',
      parentChainLength: 2,
      parentCheckpoint: 'snapledger-s-1',
      checkpoint: 'snapledger-new',
      fullReason: null,
    });
    expect(
      planBackupChain(
        facts({
          chains: mixed,
          series: { imageType: 'backup', backupType: SNAPSHOT_SERIES },
          checkpoints,
        }),
      ),
    ).toMatchObject({ parentImageId: 'b-1', chainId: 'root' });
    // The first incremental snapshot starts a chain, and says why.
    expect(planBackupChain(facts({ series: SNAPSHOTS }))).toMatchObject({
      parentImageId: null,
      imageType: 'snapshot',
      fullReason: 'no earlier incremental snapshot to build on',
    });
  });
});

describe('planChainRemoval', () => {
  it('given the root, a middle and the newest image, when removed, then the child moves onto the parent', () => {
    expect(planChainRemoval(chain, 'root')).toEqual({
      removedImageId: 'root',
      childImageId: 'a',
      newParentImageId: null,
    });
    expect(planChainRemoval(chain, 'a')).toEqual({
      removedImageId: 'a',
      childImageId: 'b',
      newParentImageId: 'root',
    });
    expect(planChainRemoval(chain, 'b')).toEqual({
      removedImageId: 'b',
      childImageId: null,
      newParentImageId: 'a',
    });
  });

  it('given an image in no chain, when removed, then there is nothing to merge', () => {
    expect(planChainRemoval(chain, 'plain')).toBeNull();
  });
});

describe('decideBackupPolicy', () => {
  const instance = { ...initialInstanceState, exists: true, instanceId: VM };

  it('given a change, when decided, then BackupPolicySet; given none, nothing', () => {
    expect(decideBackupPolicy(instance, { instanceId: VM, incremental: true })).toEqual([
      { type: 'BackupPolicySet', data: { instanceId: VM, incremental: true } },
    ]);
    expect(decideBackupPolicy(instance, { instanceId: VM, incremental: false })).toEqual([]);
  });

  it('given no instance, or a deleted one, when decided, then it is not found', () => {
    expect(() =>
      decideBackupPolicy(initialInstanceState, { instanceId: VM, incremental: true }),
    ).toThrow(InstanceNotFoundError);
    expect(() =>
      decideBackupPolicy({ ...instance, deleted: true }, { instanceId: VM, incremental: true }),
    ).toThrow(InstanceNotFoundError);
  });
});
