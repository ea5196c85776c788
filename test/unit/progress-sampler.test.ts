import { describe, expect, it } from 'vitest';
import { ProgressSampler } from '../../src/sagas/progress-sampler';

describe('ProgressSampler', () => {
  it('given no report, when sampled, then there is nothing to write', () => {
    expect(new ProgressSampler().take()).toBeNull();
  });

  it('given several reports between samples, when sampled, then the newest one is taken', () => {
    const sampler = new ProgressSampler();
    sampler.report(5);
    sampler.report(6);
    expect(sampler.take()).toBe(6);
  });

  it('given a report dropped between samples, when the next sample comes, then it is written then, not lost', () => {
    const sampler = new ProgressSampler();
    sampler.report(5);
    expect(sampler.take()).toBe(5);
    sampler.report(6); // arrives 0.6 s into the second; qemu-img may say nothing more for a while
    expect(sampler.take()).toBe(6);
  });

  it('given no new report since the last sample, when sampled, then nothing is written twice', () => {
    const sampler = new ProgressSampler();
    sampler.report(40);
    expect(sampler.take()).toBe(40);
    expect(sampler.take()).toBeNull();
    sampler.report(40);
    expect(sampler.take()).toBeNull();
  });

  it('given a report that is not a number, when sampled, then it is ignored', () => {
    const sampler = new ProgressSampler();
    sampler.report(Number.NaN);
    expect(sampler.take()).toBeNull();
  });
});
