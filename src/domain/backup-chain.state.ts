import type { BackupChainEvent, LayerMergeStarted } from '../events';

/** One image of a chain, as it lies now (merges move a layer onto another parent). */
/**
 * The series of incremental createImage snapshots: one per instance, apart from every
 * createBackup series whatever its backup_type (a member's imageType keeps them apart).
 */
export const SNAPSHOT_SERIES = 'createImage';

/** Which images a new one of a chain may lie over: the same kind, the same series. */
export interface ChainSeries {
  readonly imageType: 'backup' | 'snapshot';
  readonly backupType: string;
}

export interface ChainMember {
  readonly imageId: string;
  readonly imageType: 'backup' | 'snapshot';
  readonly backupType: string;
  readonly chainId: string;
  readonly parentImageId: string | null;
  readonly checkpoint: string | null;
  /** Order of addition: the newest member of a series has the highest. */
  readonly order: number;
}

/** An instance's backup chains, folded from its backup-chain stream. */
export interface BackupChainsState {
  /** Images in a chain now, by image id; a merged-away image is gone from here. */
  readonly members: ReadonlyMap<string, ChainMember>;
  /** Merges started and not finished, by the image they remove. */
  readonly merging: ReadonlyMap<string, LayerMergeStarted['data']>;
  /** How many images were ever added: the next one's order. */
  readonly added: number;
}

export const initialBackupChains: BackupChainsState = Object.freeze({
  members: new Map<string, ChainMember>(),
  merging: new Map<string, LayerMergeStarted['data']>(),
  added: 0,
});

export function evolveBackupChains(
  state: BackupChainsState,
  event: BackupChainEvent,
): BackupChainsState {
  switch (event.type) {
    case 'ChainLayerAdded': {
      const d = event.data;
      if (state.members.has(d.imageId)) return state;
      const members = new Map(state.members);
      members.set(d.imageId, {
        imageId: d.imageId,
        imageType: d.imageType ?? 'backup',
        backupType: d.backupType,
        chainId: d.chainId,
        parentImageId: d.parentImageId,
        checkpoint: d.checkpoint,
        order: state.added + 1,
      });
      return { ...state, members, added: state.added + 1 };
    }
    case 'LayerMergeStarted': {
      const merging = new Map(state.merging);
      merging.set(event.data.removedImageId, event.data);
      return { ...state, merging };
    }
    case 'LayerMerged': {
      const d = event.data;
      const members = new Map(state.members);
      members.delete(d.removedImageId);
      const child = d.childImageId === null ? undefined : members.get(d.childImageId);
      if (child) members.set(child.imageId, { ...child, parentImageId: d.newParentImageId });
      const merging = new Map(state.merging);
      merging.delete(d.removedImageId);
      return { ...state, members, merging };
    }
    default:
      return state;
  }
}

export function foldBackupChains(events: readonly BackupChainEvent[]): BackupChainsState {
  return events.reduce(evolveBackupChains, initialBackupChains);
}

/** Images from the chain's root to `imageId`, both included; 0 for an image in no chain. */
export function chainLengthOf(state: BackupChainsState, imageId: string): number {
  let length = 0;
  const seen = new Set<string>();
  let current = state.members.get(imageId);
  while (current && !seen.has(current.imageId)) {
    seen.add(current.imageId);
    length += 1;
    current = current.parentImageId === null ? undefined : state.members.get(current.parentImageId);
  }
  return length;
}

/** The layer that lies over `imageId` now, if any. */
export function childOf(state: BackupChainsState, imageId: string): ChainMember | null {
  for (const member of state.members.values()) {
    if (member.parentImageId === imageId) return member;
  }
  return null;
}

/** The series' newest image still in a chain, and not being merged away. */
export function newestOfSeries(state: BackupChainsState, series: ChainSeries): ChainMember | null {
  let newest: ChainMember | null = null;
  for (const member of state.members.values()) {
    if (member.imageType !== series.imageType || member.backupType !== series.backupType) continue;
    if (state.merging.has(member.imageId)) continue;
    if (!newest || member.order > newest.order) newest = member;
  }
  return newest;
}
