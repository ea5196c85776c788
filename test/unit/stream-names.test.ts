import { describe, expect, it } from 'vitest';
import {
  backupChainStream,
  imageStream,
  instanceStream,
  parseStreamName,
  snapshotStream,
} from '../../src/events';

describe('stream names', () => {
  it('round-trips every category', () => {
    const id = '0b8a6a5e-0a47-4f5e-9d8e-0d3f1f2a3b4c';
    expect(parseStreamName(instanceStream(id))).toEqual({ category: 'instance', id });
    expect(parseStreamName(imageStream(id))).toEqual({ category: 'image', id });
    expect(parseStreamName(snapshotStream(id))).toEqual({ category: 'snapshot', id });
    expect(parseStreamName(backupChainStream(id))).toEqual({ category: 'backup-chain', id });
  });
  it('rejects unknown categories', () => {
    expect(() => parseStreamName('volume-1')).toThrow(/unknown stream category/);
    expect(() => parseStreamName('backup-1')).toThrow(/unknown stream category: backup/);
    expect(() => parseStreamName('image-')).toThrow(/unknown stream category/);
    expect(() => parseStreamName('nodash')).toThrow(/not a snapledger stream name/);
  });
});
