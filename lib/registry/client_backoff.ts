/**
 * How the registry client backs off: the reconnection schedule after a transport failure, and
 * the quiet period a throttle refusal (`retry_after`) imposes on every call of one client. Kept
 * apart from the client so the policy can be read (and tuned) without the request plumbing.
 * @module
 */
import { RegistryCertificateError, RegistryReplyError } from "./errors.ts";
import type { WireMessage } from "./wire.ts";

/** Reconnection attempts after a transport failure. */
export const RECONNECT_ATTEMPTS = 5;
/** First back-off sleep; doubles up to RECONNECT_MAX_DELAY_MS. */
export const RECONNECT_BASE_DELAY_MS = 500;
/** Longest back-off sleep. */
export const RECONNECT_MAX_DELAY_MS = 10_000;

/**
 * Dials again after a transport failure (`cause`): up to `attempts` tries of `connect`. With
 * several `registries`, each failure moves on to the next one (`moveOn`) and the doubling sleep
 * comes only once each has been tried, so a dead primary costs no wait when a standby is up. A
 * certificate failure is final: retrying cannot fix a wrong pin. Throws the last failure.
 */
export async function reconnectWithBackoff(opts: {
  attempts: number;
  registries: number;
  connect: () => Promise<unknown>;
  moveOn: () => void;
  cause: Error;
}): Promise<void> {
  let delay = RECONNECT_BASE_DELAY_MS;
  let last: Error = opts.cause;
  for (let i = 0; i < opts.attempts; i++) {
    if (i > 0 && i % opts.registries === 0) {
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, RECONNECT_MAX_DELAY_MS);
    }
    try {
      await opts.connect();
      return;
    } catch (err) {
      if (err instanceof RegistryCertificateError) throw err;
      last = err as Error;
      if (opts.registries > 1) opts.moveOn();
    }
  }
  throw last;
}

/**
 * A refusal that says "rate limited" without a `retry_after` (the reference registry's) is
 * waited out this long: its heartbeat bucket refills one token every 1.2 s.
 */
export const DEFAULT_THROTTLE_WAIT_MS = 5_000;
/** Extra random wait on top of a refusal's `retry_after`, as a fraction of it, so a fleet does not retry in step. */
export const THROTTLE_JITTER = 0.5;

/** How long a throttle refusal asks the client to keep quiet (ms), or null when `reply` is not one. */
export function throttleWaitMs(reply: WireMessage): number | null {
  const ms = reply.retry_after_ms;
  if (typeof ms === "number" && Number.isFinite(ms) && ms > 0) return ms;
  const s = reply.retry_after;
  if (typeof s === "number" && Number.isFinite(s) && s > 0) return s * 1000;
  if (reply.code === "throttled" || /rate limited/.test(String(reply.error ?? ""))) {
    return DEFAULT_THROTTLE_WAIT_MS;
  }
  return null;
}

/**
 * The quiet period of one client: once the registry refuses a request and says when to retry,
 * nothing is sent before then, by any call, so a refused client does not hammer.
 */
export class ThrottleGate {
  /** Nothing is sent before this time (ms). */
  #quietUntil = 0;
  /** The `reason` of the refusal that set `#quietUntil` ("" when it gave none). */
  #quietReason = "";

  /**
   * Records a throttle refusal asking for `waitMs` of quiet, plus jitter; returns the time (ms)
   * until which calls now hold off.
   */
  refuse(reply: WireMessage, waitMs: number): number {
    this.#quietUntil = Math.max(
      this.#quietUntil,
      Date.now() + waitMs * (1 + THROTTLE_JITTER * Math.random()),
    );
    this.#quietReason = typeof reply.reason === "string" ? reply.reason : "";
    return this.#quietUntil;
  }

  /**
   * Waits until the registry's last `retry_after` has passed; when that is beyond the call's
   * `deadline`, fails at once instead of sending.
   */
  async holdOff(deadline: number): Promise<void> {
    const wait = this.#quietUntil - Date.now();
    if (wait <= 0) return;
    if (this.#quietUntil >= deadline) {
      throw new RegistryReplyError(
        `rate limited: backing off for ${Math.ceil(wait / 1000)} s as the registry asked`,
        "throttled",
        { retry_after: Math.ceil(wait / 1000), reason: this.#quietReason },
      );
    }
    await new Promise((r) => setTimeout(r, wait));
  }
}
