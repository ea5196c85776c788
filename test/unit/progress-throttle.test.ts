import { describe, expect, it } from 'vitest';
import { ProgressThrottle } from '../../src/sagas/progress-throttle';

describe('ProgressThrottle', () => {
  it('given no report yet, when the first arrives, then it is recorded', () => {
    const throttle = new ProgressThrottle(1000, () => 5_000);
    expect(throttle.admit()).toBe(true);
  });

  it('given reports every 100 ms for 5 s, when throttled at 1 s, then no two recorded reports are more than 2 s apart', () => {
    let now = 0;
    const throttle = new ProgressThrottle(1000, () => now);
    const recorded: number[] = [];
    for (now = 0; now <= 5_000; now += 100) if (throttle.admit()) recorded.push(now);
    expect(recorded).toEqual([0, 1000, 2000, 3000, 4000, 5000]);
    const gaps = recorded.slice(1).map((t, i) => t - recorded[i]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2000);
  });

  it('given a report inside the interval, when it arrives, then it is dropped', () => {
    let now = 0;
    const throttle = new ProgressThrottle(1000, () => now);
    expect(throttle.admit()).toBe(true);
    now = 999;
    expect(throttle.admit()).toBe(false);
    now = 1000;
    expect(throttle.admit()).toBe(true);
  });
});
