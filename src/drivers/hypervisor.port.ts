import type { LibvirtDomainState } from '../domain/libvirt-domain-state';

export type { LibvirtDomainState };

export interface DomainSummary {
  readonly uuid: string;
  readonly name: string;
}

export interface DomainDisk {
  /** Absolute path of the disk's file or block device, as libvirt reports it. */
  readonly path: string;
  /** `<disk type=...>`: a file, or a block device (an LVM volume, a partition, a loop device). */
  readonly kind: 'file' | 'block';
  /** The driver type from the domain XML (qcow2, raw, ...), if given. */
  readonly format: string | null;
  /** Target device, e.g. vda. */
  readonly target: string;
}

export interface DomainOwner {
  readonly projectId: string;
  readonly userId: string;
  readonly source: 'nova' | 'snapledger';
}

export interface DomainDetails {
  readonly uuid: string;
  readonly name: string;
  readonly state: LibvirtDomainState;
  /** True when a managed-save image exists (shut off + managed save = Nova's suspended). */
  readonly hasManagedSave: boolean;
  readonly persistent: boolean;
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** The first disk of device='disk' whose source is a file; null when there is none. */
  readonly snapshotDisk: DomainDisk | null;
  /** From <nova:owner> or <snapledger:owner> in the domain metadata; null when neither is there. */
  readonly owner: DomainOwner | null;
  /** The domain has a QEMU guest agent channel (org.qemu.guest_agent.0), so it can be quiesced. */
  readonly guestAgent: boolean;
}

export interface MirrorOptions {
  /** The disk's target device (vda). */
  readonly target: string;
  /** An existing qcow2 file to mirror into (created beforehand over the disk's backing file). */
  readonly destination: string;
  /** How long the copy may take; on expiry (or any failure) the block job is aborted. */
  readonly timeoutMs: number;
  /** MiB per second the copy may move (`--bandwidth`); absent means no limit. */
  readonly bandwidthMiB?: number;
}

export class DomainNotFoundError extends Error {
  constructor(readonly domain: string) {
    super(`domain ${domain} not found`);
    this.name = 'DomainNotFoundError';
  }
}

/** The domain is in a state the operation cannot apply to (e.g. saving a domain that is off). */
export class DomainStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DomainStateError';
  }
}

/** A hypervisor failure that may go away by itself (libvirtd restarting, a lock held). */
export class TransientHypervisorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransientHypervisorError';
  }
}

/**
 * The hypervisor port: what the service needs from libvirt. Every method is idempotent:
 * it checks the domain's state first and does nothing when the goal already holds.
 */
export interface Hypervisor {
  listDomains(): Promise<DomainSummary[]>;
  /** Throws DomainNotFoundError when the domain does not exist. `domain` is a uuid or name from libvirt. */
  describe(domain: string): Promise<DomainDetails>;
  state(domain: string): Promise<{ state: LibvirtDomainState; hasManagedSave: boolean }>;
  /**
   * managedsave a running or paused domain; a domain already saved is left as it is. A domain
   * that is shut off with no managed-save image raises DomainStateError: nothing was saved,
   * and it must not be started later as if it had been.
   */
  managedSave(domain: string): Promise<void>;
  /**
   * Starts a shut-off domain, restoring its managed-save image if there is one, and leaves
   * it running or paused as asked. A domain already in that state is left as it is.
   */
  start(domain: string, options: { paused: boolean }): Promise<void>;
  suspend(domain: string): Promise<void>;
  /**
   * Mirrors the disk's top layer into `destination` with a shallow, transient block copy
   * that reuses the file and is ended without pivoting: the domain keeps running on its own
   * disk and its persistent definition is never touched. Bounded by `timeoutMs`; on failure
   * the block job is aborted before this rejects.
   */
  mirrorDisk(domain: string, options: MirrorOptions): Promise<void>;
  /**
   * Aborts a block copy of the disk into `destination` left by a crash mid-mirror; false when
   * there is none. A block job with another destination is not ours and is left alone.
   */
  abortMirror(domain: string, target: string, destination: string): Promise<boolean>;
  /** Freezes the guest's filesystems through the guest agent; returns how many were frozen. */
  freezeFilesystems(domain: string): Promise<number>;
  /** Thaws them; a guest that is not frozen is fine. */
  thawFilesystems(domain: string): Promise<void>;
  resume(domain: string): Promise<void>;
  /**
   * Checks that libvirt answers on the connection, within `timeoutMs`; throws
   * TransientHypervisorError when it does not. Cheap: for readiness probes.
   */
  ping(timeoutMs: number): Promise<void>;
}

export const HYPERVISOR = Symbol('Hypervisor');
