/** Test assertions: node:assert/strict re-exported under the names Deno std uses. */
import assert from "node:assert/strict";

export const assertEquals: <T>(actual: T, expected: T, message?: string) => void = assert.deepEqual;
export const assertNotEquals: <T>(actual: T, expected: T, message?: string) => void = assert.notDeepEqual;
export const assertMatch = (actual: string, re: RegExp, message?: string): void =>
  assert.match(actual, re, message);
export const assert_ = assert.ok;
export { assert };

/** Asserts that `fn` throws an instance of `type` (and, optionally, a message matching `re`). */
export function assertThrows(
  fn: () => unknown,
  type: abstract new (...args: never[]) => Error,
  re?: RegExp,
): Error {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof type)) {
      throw new assert.AssertionError({ message: `expected ${type.name}, got ${err}` });
    }
    if (re) assert.match(err.message, re);
    return err;
  }
  throw new assert.AssertionError({ message: `expected ${type.name} to be thrown` });
}

/** Async variant of assertThrows. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  type: abstract new (...args: never[]) => Error,
  re?: RegExp,
): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof type)) {
      throw new assert.AssertionError({ message: `expected ${type.name}, got ${err}` });
    }
    if (re) assert.match(err.message, re);
    return err;
  }
  throw new assert.AssertionError({ message: `expected ${type.name} to be rejected` });
}
