/**
 * A listener could not be bound. The message names the setting and the address, in the words
 * an operator acts on ("--listen 127.0.0.1:4000: address already in use"), instead of the OS
 * text alone; the original error stays the cause.
 */
import { PilotError } from "../errors.ts";

export class BindError extends PilotError {
  constructor(readonly setting: string, readonly address: string, cause: unknown) {
    super(`${setting} ${address}: ${bindReason(cause)}`, { cause });
  }

  /** True when the address was taken (the caller may fall back to another port). */
  get addressInUse(): boolean {
    return bindReason(this.cause) === "address already in use";
  }
}

/** The short reason a bind failed: the OS condition in words, whatever layer wrapped it. */
export function bindReason(err: unknown): string {
  const text = errorChainText(err);
  if (err instanceof Deno.errors.AddrInUse || /EADDRINUSE|address already in use|AddrInUse/i.test(text)) {
    return "address already in use";
  }
  if (err instanceof Deno.errors.AddrNotAvailable || /EADDRNOTAVAIL|AddrNotAvailable/i.test(text)) {
    return "address not available on this machine";
  }
  if (err instanceof Deno.errors.PermissionDenied || /EACCES|permission denied/i.test(text)) {
    return "permission denied";
  }
  if (err instanceof BindError) return bindReason(err.cause);
  return err instanceof Error ? err.message.replace(/ \(os error \d+\)$/, "") : String(err);
}

/** Messages and codes of `err` and its causes, for matching OS conditions. */
function errorChainText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 8; depth++) {
    const code = (e as { code?: unknown })?.code;
    parts.push(
      e instanceof Error ? `${e.name} ${e.message}` : String(e),
      typeof code === "string" ? code : "",
    );
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(" ");
}

/** `err` as a BindError when the OS refused the address itself; any other error unchanged. */
export function asBindError(setting: string, address: string, err: unknown): unknown {
  const osBind = err instanceof Deno.errors.AddrInUse || err instanceof Deno.errors.AddrNotAvailable ||
    err instanceof Deno.errors.PermissionDenied;
  return osBind ? new BindError(setting, address, err) : err;
}
