import { Worker } from 'node:worker_threads';
import type { StoredImage } from './image-store.port';

/**
 * The nice value of the hashing thread (Linux; that thread only, never the main thread). A
 * cold snapshot's checksums are computed while its domain is restored, and QEMU's restore is
 * slowed by whatever runs beside it. With one more busy thread on a 2-core host, `virsh start`
 * took 1.37 s with the hashing at nice 10 and 1.68 s at nice 0, for the checksums ready
 * 0.08 s later all told (docs/benchmarks.md). On an idle host the level makes no difference.
 */
export const HASH_THREAD_NICE = 10;

/**
 * Runs in a worker thread: reads the file once, through one reused buffer, into one hash
 * (md5 or sha512), and posts the size it read with the hex digest. No per-chunk allocations:
 * 1 MiB chunks allocated anew cost as much in page faults as the copy itself.
 */
const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { closeSync, openSync, readlinkSync, readSync } = require('node:fs');
const { setPriority } = require('node:os');
if (workerData.nice > 0) {
  try {
    // /proc/thread-self is "<pid>/task/<tid>": this thread, never the service's main thread.
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isSafeInteger(tid) && tid > 0 && tid !== process.pid) setPriority(tid, workerData.nice);
  } catch {
    // Not Linux, or not allowed: hash at the normal priority.
  }
}
const hash = createHash(workerData.algorithm);
const buffer = Buffer.allocUnsafe(1 << 20);
const fd = openSync(workerData.path, 'r');
let size = 0;
try {
  for (;;) {
    const read = readSync(fd, buffer, 0, buffer.length, null);
    if (read === 0) break;
    hash.update(read === buffer.length ? buffer : buffer.subarray(0, read));
    size += read;
  }
} finally {
  closeSync(fd);
}
parentPort.postMessage({ size, digest: hash.digest('hex') });
`;

/**
 * Glance's checksums of a file: md5 (`checksum`) and sha512 (`os_hash_value`), with the
 * size that was hashed. Each hash runs in a worker thread of its own, side by side: on a
 * cold snapshot they overlap the domain's restore, and two threads finish within it where
 * one thread doing both did not (docs/benchmarks.md, "Where snapledger spends its time").
 * The threads run at `nice` (default HASH_THREAD_NICE) so that they do not slow down the
 * hypervisor work they overlap. The file must not change while it is hashed (a staged or
 * stored image never does).
 */
export async function digestFile(
  path: string,
  options: { readonly nice?: number } = {},
): Promise<StoredImage> {
  const nice = options.nice ?? HASH_THREAD_NICE;
  const [md5, sha512] = await Promise.all([
    hashInWorker(path, 'md5', nice),
    hashInWorker(path, 'sha512', nice),
  ]);
  if (md5.size !== sha512.size) {
    throw new Error(`checksums of ${path}: the file changed while it was hashed`);
  }
  return { size: md5.size, checksum: md5.digest, osHashValue: sha512.digest };
}

function hashInWorker(
  path: string,
  algorithm: 'md5' | 'sha512',
  nice: number,
): Promise<{ size: number; digest: string }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(HASH_WORKER, { eval: true, workerData: { path, algorithm, nice } });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${algorithm} of ${path}: hash worker exited with ${code}`));
    });
  });
}
