/**
 * Timeouts and cancellation for every blocking SDK call: one helper that races a
 * waiter against an optional timeout and an optional AbortSignal, and tells the
 * waiter's owner to forget it when it loses.
 * @module
 */
import { IpcError } from "../ipc/errors.ts";

/**
 * Options every blocking SDK call takes.
 *
 * @example
 * ```ts
 * import type { CallOptions, PilotClient } from "../../mod.ts";
 * async function infoWithin(client: PilotClient, ms: number): Promise<number> {
 *   const controller = new AbortController();
 *   const options: CallOptions = { timeoutMs: ms, signal: controller.signal };
 *   return (await client.info(options)).uptime_secs;
 * }
 * console.assert(typeof infoWithin === "function");
 * ```
 */
export interface CallOptions {
  /** Cancels the call; it then rejects with {@link IpcError} `aborted` (the signal's reason is the cause). */
  signal?: AbortSignal;
  /** Milliseconds before the call rejects with {@link IpcError} `timeout`. */
  timeoutMs?: number;
}

/**
 * Starts a wait and bounds it. `register` receives settle functions and returns
 * a cancel function that runs when the timeout or abort wins, so the owner can
 * drop (or mark abandoned) whatever it queued. `defaultTimeoutMs` applies only
 * when the caller gave neither a signal nor a timeout. Settling after the
 * deadline is ignored.
 */
export function waitWithDeadline<T>(
  what: string,
  options: CallOptions | undefined,
  defaultTimeoutMs: number | undefined,
  register: (resolve: (value: T) => void, reject: (err: Error) => void) => () => void,
): Promise<T> {
  const signal = options?.signal;
  const ms = options?.timeoutMs ?? (signal ? undefined : defaultTimeoutMs);
  if (ms !== undefined && (!Number.isFinite(ms) || ms < 0)) {
    return Promise.reject(
      new IpcError("invalid-value", `${what}: timeoutMs must be a finite number >= 0, got ${ms}`),
    );
  }
  if (signal?.aborted) return Promise.reject(abortError(what, signal));
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let cancel: () => void = () => {};
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      return true;
    };
    const onAbort = () => {
      if (!finish()) return;
      cancel();
      reject(abortError(what, signal!));
    };
    cancel = register(
      (value) => finish() && resolve(value),
      (err) => finish() && reject(err),
    );
    if (done) return;
    if (ms !== undefined) {
      timer = setTimeout(() => {
        if (!finish()) return;
        cancel();
        reject(new IpcError("timeout", `${what} timed out after ${ms} ms`));
      }, ms);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Bounds an existing promise; losing the race leaves the promise running. */
export function withDeadline<T>(
  what: string,
  promise: Promise<T>,
  options: CallOptions | undefined,
  defaultTimeoutMs?: number,
): Promise<T> {
  return waitWithDeadline<T>(what, options, defaultTimeoutMs, (resolve, reject) => {
    promise.then(resolve, reject);
    return () => {};
  });
}

function abortError(what: string, signal: AbortSignal): IpcError {
  return new IpcError("aborted", `${what} aborted`, { cause: signal.reason });
}
