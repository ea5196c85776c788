import { Mutex } from 'async-mutex';

/**
 * One lock per instance over its backup chains' files, in this process: hashing a backup
 * (ChecksumStep) reads the whole chain under it, and a merge (BackupChainMerge) rewrites a
 * layer of it, so the two take turns. Chains of different instances share no file.
 */
export class ChainFileLocks {
  private readonly locks = new Map<string, Mutex>();

  of(instanceId: string): Mutex {
    let lock = this.locks.get(instanceId);
    if (!lock) {
      lock = new Mutex();
      this.locks.set(instanceId, lock);
    }
    return lock;
  }
}
