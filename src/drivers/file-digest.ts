import { Worker } from 'node:worker_threads';
import type { StoredImage } from './image-store.port';

/**
 * The nice value of the hashing threads (Linux; those threads only, never the main thread).
 * A cold snapshot's checksums are computed while its domain is restored, and QEMU's restore
 * is slowed by whatever runs beside it. With one more busy thread on a 2-core host, `virsh
 * start` took 1.37 s with the hashing at nice 10 and 1.68 s at nice 0 (docs/benchmarks.md).
 * A niceness does not give QEMU a core of its own, though: see HashThreads.
 */
export const HASH_THREAD_NICE = 10;

/**
 * Runs in a worker thread: reads the file once, through one reused buffer, into each of its
 * hashes (md5, sha512 or both), and posts the size it read with the hex digests. No
 * per-chunk allocations: 1 MiB chunks allocated anew cost as much in page faults as the copy
 * itself.
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
const hashes = workerData.algorithms.map((algorithm) => createHash(algorithm));
const buffer = Buffer.allocUnsafe(1 << 20);
const fd = openSync(workerData.path, 'r');
let size = 0;
try {
  for (;;) {
    const read = readSync(fd, buffer, 0, buffer.length, null);
    if (read === 0) break;
    const chunk = read === buffer.length ? buffer : buffer.subarray(0, read);
    for (const hash of hashes) hash.update(chunk);
    size += read;
  }
} finally {
  closeSync(fd);
}
parentPort.postMessage({ size, digests: hashes.map((hash) => hash.digest('hex')) });
`;

/**
 * How many threads hash a file: `both`: md5 and sha512 side by side, each in a thread of its
 * own, the fastest way when nothing else needs the CPUs; `one`: both in one thread, one pass
 * over the file, which leaves a core to the work it overlaps. On a 2-core host a cold
 * snapshot's restore (`virsh start`) took 1.44 s beside two hashing threads and 1.14 s with
 * none, as fast as the bare command; one thread finishes within the restore all the same
 * (docs/benchmarks.md, "Where snapledger spends its time").
 */
export type HashThreads = 'both' | 'one';

/**
 * Glance's checksums of a file: md5 (`checksum`) and sha512 (`os_hash_value`), with the
 * size that was hashed. The threads (`threads`, default both side by side) run at `nice`
 * (default HASH_THREAD_NICE), so that they do not slow down the hypervisor work they
 * overlap. The file must not change while it is hashed (a staged or stored image never does).
 */
export async function digestFile(
  path: string,
  options: {
    readonly nice?: number;
    readonly threads?: HashThreads;
    /** Ends the hashing threads and rejects with the signal's reason. */
    readonly signal?: AbortSignal;
  } = {},
): Promise<StoredImage> {
  const nice = options.nice ?? HASH_THREAD_NICE;
  const { signal } = options;
  if (options.threads === 'one') {
    const { size, digests } = await hashInWorker(path, ['md5', 'sha512'], nice, signal);
    return { size, checksum: digests[0]!, osHashValue: digests[1]! };
  }
  const [md5, sha512] = await Promise.all([
    hashInWorker(path, ['md5'], nice, signal),
    hashInWorker(path, ['sha512'], nice, signal),
  ]);
  if (md5.size !== sha512.size) {
    throw new Error(`checksums of ${path}: the file changed while it was hashed`);
  }
  return { size: md5.size, checksum: md5.digests[0]!, osHashValue: sha512.digests[0]! };
}

function hashInWorker(
  path: string,
  algorithms: readonly ('md5' | 'sha512')[],
  nice: number,
  signal?: AbortSignal,
): Promise<{ size: number; digests: string[] }> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const worker = new Worker(HASH_WORKER, {
      eval: true,
      workerData: { path, algorithms, nice },
    });
    const onAbort = () => {
      reject((signal as AbortSignal).reason as Error);
      void worker.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => {
      signal?.removeEventListener('abort', onAbort);
      if (code !== 0)
        reject(new Error(`${algorithms.join('+')} of ${path}: hash worker exited with ${code}`));
    });
  });
}
