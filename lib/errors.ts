/**
 * Base class for every error pilot raises on purpose. Each decoder and subsystem
 * derives its own subclass so callers (and fuzz tests) can tell "this input was
 * rejected" apart from a programming error.
 *
 * @example
 * ```ts
 * import { PilotError } from "./errors.ts";
 * import { Address } from "./protocol/address.ts";
 * try {
 *   Address.parse("0:zzzz");
 * } catch (err) {
 *   console.assert(err instanceof PilotError); // a rejected input, not a bug
 * }
 * ```
 */
export class PilotError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The message of `err` when it is an Error, else its string form: for log fields and error texts. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Why a rejection may be dropped without a log line. Each value names a situation in which the
 * failure carries nothing the caller or an operator could act on.
 */
export type IgnoredBecause =
  /** Best-effort teardown (close, remove a temp file or lock): the resource may be gone already. */
  | "cleanup"
  /** The same failure reaches the caller by another path (it awaits the original promise, a later read fails). */
  | "reported elsewhere"
  /** A last courtesy write to a peer that is being dropped or has left; nobody is left to tell. */
  | "peer gone"
  /** A test or benchmark provokes the failure on purpose and asserts on something else. */
  | "expected in test"
  /** Extra detail for a report (e.g. a path label); without it the report says "unknown". */
  | "optional detail";

/**
 * Drops a rejection of `promise` on purpose, with `because` saying why that is right. Use a log
 * line instead whenever the failure is news to an operator.
 *
 * @example
 * ```ts
 * import { closeQuietly, errorMessage, ignoreRejection, settleQuietly } from "./errors.ts";
 * const failing = () => Promise.reject(new Error("socket closed"));
 * ignoreRejection(failing(), "peer gone"); // fire and forget, never an unhandled rejection
 * console.assert((await settleQuietly(failing(), "cleanup")) === undefined);
 * await closeQuietly({ close: () => Promise.reject(new Error("already closed")) });
 * console.assert(errorMessage(new Error("boom")) === "boom" && errorMessage(42) === "42");
 * ```
 */
export function ignoreRejection(promise: PromiseLike<unknown>, because: IgnoredBecause): void {
  Promise.resolve(promise).then(undefined, () => ignoredFor(because));
}

/**
 * Awaits `promise`; resolves to undefined instead of rejecting, with `because` saying why the
 * failure may be dropped. For call sites that must wait for the outcome but not fail on it.
 */
export async function settleQuietly<T>(
  promise: PromiseLike<T>,
  because: IgnoredBecause,
): Promise<T | undefined> {
  try {
    return await promise;
  } catch {
    ignoredFor(because);
    return undefined;
  }
}

/**
 * Closes `resource` (sync or async `close()`), swallowing the error a second close or an
 * already-broken resource raises: teardown must not fail the caller.
 */
export async function closeQuietly(resource: { close(): unknown } | undefined | null): Promise<void> {
  try {
    await resource?.close();
  } catch {
    ignoredFor("cleanup");
  }
}

function ignoredFor(_because: IgnoredBecause): void {
  // The reason documents the call site; nothing happens at run time.
}
