import { expect, type Assertion } from 'vitest';

/**
 * What `thenThrows` may expect: the error's class, its message (part or pattern), an error
 * with the same message, or a plain object of fields the error has.
 */
export type ExpectedError = NonNullable<Parameters<Assertion['toThrow']>[0]> | ErrorFields;
type ErrorFields = Readonly<Record<string, unknown>>;

export interface Then<Decision> {
  /** The decision is exactly this. */
  then(expected: Decision): void;
  /** The decision has at least these fields (arrays: the same length, each element matching). */
  thenMatches(expected: unknown): void;
  /** The decision is no events at all. */
  thenNothingHappened(): void;
  /** Deciding does not throw (a check that only refuses, such as an authorization). */
  thenDoesNotThrow(): void;
  /** Deciding throws, and the error meets every expectation given. */
  thenThrows(...expected: ExpectedError[]): void;
}

export interface When<State> {
  /** The state the given history folds to. */
  readonly state: State;
  when<Args extends unknown[], Decision>(
    decide: (state: State, ...args: Args) => Decision,
    ...args: Args
  ): Then<Decision>;
}

/**
 * given(history).when(decide, command).then(decision), after Emmett's DeciderSpecification:
 * the history is folded into a state, `decide` runs on it once per assertion, and the
 * assertion fails the test (throws) when the decision is not the one expected.
 */
export function specification<Given extends unknown[], State>(
  fold: (...given: Given) => State,
): (...given: Given) => When<State> {
  return (...given) => {
    const state = fold(...given);
    return {
      state,
      when: (decide, ...args) => thenOf(() => decide(state, ...args)),
    };
  };
}

/** The specification of a decider whose state is folded from its events, e.g. foldImage. */
export function deciderSpecification<State, Event>(
  fold: (events: readonly Event[]) => State,
): (...given: Event[]) => When<State> {
  return specification((...given: Event[]) => fold(given));
}

function thenOf<Decision>(decide: () => Decision): Then<Decision> {
  return {
    then: (expected) => expect(decide()).toEqual(expected),
    thenMatches: (expected) => expect(decide()).toMatchObject(expected as object),
    thenNothingHappened: () => expect(decide()).toEqual([]),
    thenDoesNotThrow: () => expect(decide).not.toThrow(),
    thenThrows: (...expected) => {
      let thrown: unknown;
      try {
        decide();
      } catch (error) {
        thrown = error;
      }
      expect(thrown, 'the decider decided instead of throwing').toBeInstanceOf(Error);
      for (const e of expected)
        if (isErrorFields(e)) expect(thrown).toMatchObject(e);
        else expect(() => rethrow(thrown)).toThrow(e);
    },
  };
}

function isErrorFields(expected: ExpectedError): expected is ErrorFields {
  return Object.getPrototypeOf(expected) === Object.prototype;
}

function rethrow(error: unknown): never {
  throw error;
}
