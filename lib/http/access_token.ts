/**
 * The token the status pages and `/status` ask for when the HTTP endpoint is bound to an
 * address other than loopback: they list peers, endpoints, trust and the audit trail, which
 * only the machine's own users see on a loopback bind. The token comes as
 * `Authorization: Bearer T` or `?token=T` (so a browser can open the page and its reloads
 * keep the query); it is compared in constant time.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { primitives } from "../crypto/primitives.ts";
import { constantTimeEqual, utf8 } from "../bytes.ts";
import { normalizeHostName } from "./host_check.ts";

/** The environment variable that gives the token when `--http-token` is absent. */
export const HTTP_TOKEN_ENV = "PILOT_HTTP_TOKEN";

/** Who may read the protected routes. */
export interface TokenPolicy {
  /** The address the endpoint is bound to; absent means loopback. */
  bound?: string;
  /** The token; absent or "" means none was configured. */
  token?: string;
}

/** Whether `bound` is a loopback address or name (the only binds that need no token). */
export function isLoopbackBind(bound: string | undefined): boolean {
  if (bound === undefined) return true;
  const name = normalizeHostName(bound);
  return name === "localhost" || name === "::1" || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/** SHA-256 of a token's UTF-8 (the process's primitives, not @noble/hashes). */
function sha256(text: string): Uint8Array {
  return primitives.sha256(utf8(text));
}

/**
 * Hono middleware for the protected routes: passes every request on a loopback bind; on any
 * other bind answers 403 when no token was configured and 401 unless the request carries it.
 */
export function requireToken(policy: TokenPolicy): MiddlewareHandler {
  if (isLoopbackBind(policy.bound)) return (_c, next) => next();
  const expected = policy.token ? sha256(policy.token) : undefined;
  return (c, next) => {
    if (expected === undefined) {
      return Promise.resolve(c.json({
        error: `this endpoint is bound to ${policy.bound}, not loopback: start it with --http-token T ` +
          `(or ${HTTP_TOKEN_ENV}) to read this page`,
      }, 403));
    }
    const header = c.req.header("authorization") ?? "";
    const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    const given = bearer ?? c.req.query("token");
    if (given !== undefined && constantTimeEqual(sha256(given), expected)) return next();
    c.header("WWW-Authenticate", 'Bearer realm="pilot"');
    return Promise.resolve(c.json({
      error: "token required: send Authorization: Bearer <token> or add ?token=<token> to the URL",
    }, 401));
  };
}
