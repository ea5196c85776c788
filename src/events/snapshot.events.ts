import type { PowerState, VmState } from './instance.events';

/**
 * How a snapshot is taken. `cold`: the domain is managed-saved for the conversion and
 * restored after. `offline`: the domain is shut off (or suspended), so the disk is
 * converted with no save.
 */
export type SnapshotMode = 'cold' | 'offline';

/**
 * The snapshot process manager records its plan before it touches the domain, so a
 * restarted service knows what it was doing and what it must put back.
 */
export type SnapshotPlanned = {
  readonly type: 'SnapshotPlanned';
  readonly data: {
    readonly imageId: string;
    readonly instanceId: string;
    readonly mode: SnapshotMode;
    readonly priorPowerState: PowerState;
    readonly priorVmState: VmState;
    readonly domainName: string;
    readonly diskPath: string;
    readonly sourceFormat: string;
    readonly targetFormat: string;
    readonly virtualSize: number;
  };
};

/** A step failed but will be retried; kept so the history shows transient faults. */
export type SnapshotStepRetried = {
  readonly type: 'SnapshotStepRetried';
  readonly data: {
    readonly imageId: string;
    readonly step: string;
    readonly attempt: number;
    readonly reason: string;
  };
};

export type SnapshotProcessEvent = SnapshotPlanned | SnapshotStepRetried;
