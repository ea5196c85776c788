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
 * Runs in a worker thread: reads the file once, through one reused buffer, into md5 and
 * sha512 together, and posts the size it read with both hex digests. One pass and no
 * per-chunk allocations: about half the CPU of one stream per hash (whose 1 MiB chunks,
 * allocated anew, cost as much in page faults as the copy itself).
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
const md5 = createHash('md5');
const sha512 = createHash('sha512');
const buffer = Buffer.allocUnsafe(1 << 20);
const fd = openSync(workerData.path, 'r');
let size = 0;
try {
  for (;;) {
    const read = readSync(fd, buffer, 0, buffer.length, null);
    if (read === 0) break;
    const chunk = read === buffer.length ? buffer : buffer.subarray(0, read);
    md5.update(chunk);
    sha512.update(chunk);
    size += read;
  }
} finally {
  closeSync(fd);
}
parentPort.postMessage({ size, checksum: md5.digest('hex'), osHashValue: sha512.digest('hex') });
`;

/**
 * Glance's checksums of a file: md5 (`checksum`) and sha512 (`os_hash_value`), with the
 * size that was hashed. Computed in one worker thread, so the event loop stays free; the
 * thread runs at `nice` (default HASH_THREAD_NICE) so that it does not slow down the
 * hypervisor work it overlaps.
 */
export function digestFile(
  path: string,
  options: { readonly nice?: number } = {},
): Promise<StoredImage> {
  const nice = options.nice ?? HASH_THREAD_NICE;
  return new Promise((resolve, reject) => {
    const worker = new Worker(HASH_WORKER, { eval: true, workerData: { path, nice } });
    worker.once('message', (digest: StoredImage) => resolve(digest));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`checksums of ${path}: hash worker exited with ${code}`));
    });
  });
}
