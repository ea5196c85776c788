/**
 * libvirt's lifecycle events (virDomainEventType and its detail), as `virsh event` prints
 * them: "Started Booted", "Suspended Paused", "Resumed Unpaused", "Stopped Saved",
 * "Undefined Removed", and so on.
 */
export interface LifecycleEvent {
  /** libvirt's timestamp of the event. */
  readonly at: Date;
  /** The domain's name (virsh prints names, not uuids). */
  readonly domain: string;
  /** The event: Defined, Undefined, Started, Suspended, Resumed, Stopped, Shutdown, PMSuspended, Crashed. */
  readonly event: string;
  /** The event's detail, e.g. Paused, Saved, Destroyed, Restored; may be empty. */
  readonly detail: string;
}

/**
 * What a listener hears: a lifecycle event, or that the stream was interrupted (libvirtd
 * restarted, virsh died) and has reconnected, so events may have been missed meanwhile.
 */
export type LifecycleNotice =
  | { readonly kind: 'event'; readonly event: LifecycleEvent }
  | { readonly kind: 'gap'; readonly at: Date; readonly reason: string };

/** The host's stream of libvirt lifecycle events. */
export interface DomainLifecycleEvents {
  /** Listens until the returned function is called. */
  subscribe(listener: (notice: LifecycleNotice) => void): () => void;
}

export const DOMAIN_LIFECYCLE_EVENTS = Symbol('DomainLifecycleEvents');
