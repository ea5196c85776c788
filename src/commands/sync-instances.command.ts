import type { RequestContext } from '../domain/request-context';

/**
 * Compares libvirt with the instances snapledger knows: registers new domains, records
 * changed power states, deletes instances whose domain is gone and restores those whose uuid
 * is defined again. With `domain` (a name, from a libvirt lifecycle event) only that name is
 * looked at; without, every domain is.
 */
export class SyncInstancesCommand {
  constructor(
    readonly request: RequestContext,
    readonly domain?: string,
  ) {}
}

export interface SyncInstancesResult {
  readonly seen: number;
  readonly registered: string[];
  readonly synced: string[];
  /** Deleted instances whose uuid was defined again. */
  readonly restored: string[];
  /** Instances whose domain left libvirt (InstanceDeleted). */
  readonly deleted: string[];
  /** Names of the domains SNAPLEDGER_DOMAINS leaves out: not read, not instances. */
  readonly outOfScope: string[];
  /** Domains that could not be read (they vanished mid-sync, for example). */
  readonly skipped: { domain: string; reason: string }[];
  /**
   * Instances a snapshot holds, whose change (a power state, or a deletion) waits for the
   * snapshot to end: what the snapshot does to its domain is its own story.
   */
  readonly deferred: string[];
  readonly position: number;
}

/** The instances the log holds and that are not deleted: where to look for domains gone. */
export interface KnownInstances {
  list(): Promise<{ instanceId: string; domainName: string }[]>;
  /** A snapshot holds the task state of the (not deleted) instance of this domain name. */
  isHeld(domainName: string): Promise<boolean>;
}

export const KNOWN_INSTANCES = Symbol('KnownInstances');
