import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { StoredImage } from './image-store.port';

/** Runs in a worker thread: streams one file through one hash and posts the hex digest. */
const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { createReadStream } = require('node:fs');
const hash = createHash(workerData.algorithm);
createReadStream(workerData.path, { highWaterMark: 1 << 20 })
  .on('data', (chunk) => hash.update(chunk))
  .on('end', () => parentPort.postMessage(hash.digest('hex')))
  .on('error', (error) => { throw error; });
`;

function hashInWorker(path: string, algorithm: 'md5' | 'sha512'): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(HASH_WORKER, { eval: true, workerData: { path, algorithm } });
    worker.once('message', (digest: string) => resolve(digest));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${algorithm} of ${path}: hash worker exited with ${code}`));
    });
  });
}

/**
 * Glance's checksums of a file: md5 (`checksum`) and sha512 (`os_hash_value`), each in its
 * own worker thread, so the two run side by side and the event loop stays free.
 */
export async function digestFile(path: string): Promise<StoredImage> {
  const [checksum, osHashValue, info] = await Promise.all([
    hashInWorker(path, 'md5'),
    hashInWorker(path, 'sha512'),
    stat(path),
  ]);
  return { size: info.size, checksum, osHashValue };
}
