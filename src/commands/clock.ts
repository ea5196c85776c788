import { randomUUID } from 'node:crypto';

/** Time and ids come into deciders as inputs; handlers get them from here. */
export interface Clock {
  now(): Date;
}
export interface IdGenerator {
  uuid(): string;
}

export const systemClock: Clock = { now: () => new Date() };
export const randomIds: IdGenerator = { uuid: () => randomUUID() };

export const CLOCK = Symbol('Clock');
export const ID_GENERATOR = Symbol('IdGenerator');
