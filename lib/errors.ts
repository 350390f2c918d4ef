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
 * failure carries no information the caller could act on.
 */
export type IgnoredBecause =
  /** Best-effort teardown: the resource may already be closed, and the caller is leaving anyway. */
  | "closing"
  /** The operation's outcome is observed elsewhere (another await, an event, a later read). */
  | "observed elsewhere"
  /** The peer or connection went away first; nothing is left to report to. */
  | "peer gone"
  /** A test or benchmark drives the failure on purpose and asserts on something else. */
  | "expected in test";

/**
 * Drops a rejection of `promise` on purpose, with `because` saying why that is right. Use a log
 * line instead whenever the failure is news to an operator.
 */
export function ignoreRejection(promise: PromiseLike<unknown>, because: IgnoredBecause): void {
  Promise.resolve(promise).catch(() => ignoredFor(because));
}

/**
 * Closes `resource` (anything with `close()`, sync or async) and swallows the error a second
 * close or an already-broken resource raises: teardown must not fail the caller.
 */
export function closeQuietly(resource: { close(): unknown } | undefined | null): void {
  if (!resource) return;
  try {
    const done = resource.close();
    if (done instanceof Promise) ignoreRejection(done, "closing");
  } catch {
    // already closed: nothing to undo
  }
}

/** Awaits `promise` and yields undefined if it rejects, for call sites that must wait but not fail. */
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

function ignoredFor(_because: IgnoredBecause): void {
  // The reason is documentation at the call site; nothing to do at run time.
}
