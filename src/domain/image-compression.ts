/** qcow2 cluster compression algorithms. */
export type ImageCompression = 'zlib' | 'zstd';
