import type { RequestContext } from './request-context';

/** Lists the domains on the libvirt connection and records new ones and changed power states. */
export class SyncInstancesCommand {
  constructor(readonly request: RequestContext) {}
}

export interface SyncInstancesResult {
  readonly seen: number;
  readonly registered: string[];
  readonly synced: string[];
  /** Domains that could not be read (they vanished mid-sync, for example). */
  readonly skipped: { domain: string; reason: string }[];
  readonly position: number;
}
