/** A push-mode backup of one disk of a running domain, into a qcow2 file made beforehand. */
export interface BackupJobOptions {
  /** The disk's target device (vda). */
  readonly target: string;
  /** Absolute path of the qcow2 to write (QEMU's user must be able to reach it). */
  readonly destination: string;
  /** Copy only the blocks written since this checkpoint; null copies the whole disk. */
  readonly sinceCheckpoint: string | null;
  /** The checkpoint the job creates at the instant it starts. */
  readonly checkpoint: string;
  /** How long the copy may take; on expiry (or any failure) the job is aborted. */
  readonly timeoutMs: number;
}

/** libvirt's checkpoints and backup jobs (virsh checkpoint-*, backup-begin, domjob*). */
export interface BackupJobs {
  /** Names of the domain's checkpoints. */
  checkpoints(domain: string): Promise<string[]>;
  /**
   * How many bytes a backup since `checkpoint` would copy now (libvirt asks QEMU's bitmap);
   * rejects when the checkpoint cannot be used (its bitmap is gone from the disk).
   */
  pendingBytes(domain: string, checkpoint: string): Promise<number>;
  /** Runs the backup job to its end; rejects (after aborting the job) when it fails. */
  backup(domain: string, options: BackupJobOptions): Promise<void>;
  /** Aborts a backup job left running (by a crash); false when none runs. */
  abortBackup(domain: string): Promise<boolean>;
  /** Deletes a checkpoint and its bitmap; false when there was none. */
  deleteCheckpoint(domain: string, checkpoint: string): Promise<boolean>;
}

export const BACKUP_JOBS = Symbol('BackupJobs');
