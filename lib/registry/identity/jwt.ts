/**
 * OIDC JWT checking for `validate_token` (docs/protocol/registry.md §9.2): the
 * signature against the IdP's JWKS, fetched over HTTP(S) and cached, and the
 * claims `exp`, `nbf`, `aud`, `iss`. The cryptography is `jose`'s; this module
 * adds the policy: only RS256 and ES256 (the reference also takes HS256, which
 * with a public JWKS lets anyone forge tokens, so `none` and every HS* are
 * refused by name), a bounded JWKS download, and at most one refetch per
 * cooldown when a token names a key the cached set lacks (rotation at the IdP).
 * @module
 */
import type { JSONWebKeySet } from "jose";
import { settleQuietly } from "../../errors.ts";

type Jose = typeof import("jose");
let jose: Promise<Jose> | undefined;

/**
 * `jose`, loaded on the first token or JWKS: most registries never see one, and loading it at
 * start cost ~2.4 MiB of resident memory (docs/benchmarks.md, "Registry memory").
 */
function loadJose(): Promise<Jose> {
  return jose ??= import("jose");
}

/** The only signature algorithms accepted. */
export const ACCEPTED_ALGORITHMS: readonly string[] = ["RS256", "ES256"];
/** A fetched JWKS is used this long before it is fetched again. */
export const JWKS_TTL_MS = 5 * 60_000;
/** An unknown `kid` triggers a refetch at most this often. */
export const JWKS_REFETCH_COOLDOWN_MS = 30_000;
/** JWKS download deadline. */
export const JWKS_FETCH_TIMEOUT_MS = 5_000;
/** Largest JWKS document accepted. */
export const MAX_JWKS_BYTES = 64 * 1024;
/** Most keys taken from one JWKS. */
export const MAX_JWKS_KEYS = 100;
/** Longest token accepted. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
/** Clock skew allowed on `exp` and `nbf` (the reference's 60 s). */
export const CLOCK_TOLERANCE_S = 60;

/** What a token must match. */
export interface TokenExpectations {
  /** JWKS document URL. */
  jwksUrl: string;
  /** Required `iss`, or "" to accept any. */
  issuer: string;
  /** Required member of `aud`. */
  audience: string;
  /** The time to check `exp`/`nbf` against (Unix ms). */
  now: number;
}

/** The outcome, in `validate_token`'s reply shape. */
export type TokenVerdict =
  | { verified: true; subject: string; issuer: string }
  | { verified: false; error: string };

/** JWKS cache settings (tests shorten them). */
export interface JwksCacheOptions {
  ttlMs?: number;
  refetchCooldownMs?: number;
  timeoutMs?: number;
}

interface CachedSet {
  url: string;
  fetchedAt: number;
  resolve: ReturnType<Jose["createLocalJWKSet"]>;
}

/** A fetch failed or returned something that is not a usable JWKS. */
export class JwksFetchError extends Error {}

/** One IdP's key set, fetched on demand and cached; `fetches` counts downloads (for tests and metrics). */
export class JwksCache {
  fetches = 0;
  #cached: CachedSet | null = null;
  #inflight: { url: string; set: Promise<CachedSet> } | null = null;
  readonly #ttl: number;
  readonly #cooldown: number;
  readonly #timeout: number;

  constructor(options: JwksCacheOptions = {}) {
    this.#ttl = options.ttlMs ?? JWKS_TTL_MS;
    this.#cooldown = options.refetchCooldownMs ?? JWKS_REFETCH_COOLDOWN_MS;
    this.#timeout = options.timeoutMs ?? JWKS_FETCH_TIMEOUT_MS;
  }

  /** The cached set for `url`, fetched when absent, for another URL, or older than the TTL. */
  async get(url: string, now: number): Promise<CachedSet> {
    const c = this.#cached;
    if (c && c.url === url && now - c.fetchedAt < this.#ttl) return c;
    return await this.refresh(url, now);
  }

  /** A refetch, unless the cached set for `url` is younger than the cooldown. Concurrent callers share one fetch. */
  async refetch(url: string, now: number): Promise<CachedSet | null> {
    const c = this.#cached;
    if (c && c.url === url && now - c.fetchedAt < this.#cooldown) return null;
    return await this.refresh(url, now);
  }

  private async refresh(url: string, now: number): Promise<CachedSet> {
    if (this.#inflight?.url !== url) {
      const set = this.#download(url, now).finally(() => {
        if (this.#inflight?.set === set) this.#inflight = null;
      });
      this.#inflight = { url, set };
    }
    return await this.#inflight.set;
  }

  async #download(url: string, now: number): Promise<CachedSet> {
    this.fetches++;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { accept: "application/json" },
        redirect: "error",
        signal: AbortSignal.timeout(this.#timeout),
      });
    } catch (err) {
      throw new JwksFetchError(`JWKS fetch failed: ${(err as Error).message}`);
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new JwksFetchError(`JWKS fetch returned status ${res.status}`);
    }
    const text = await readCapped(res, MAX_JWKS_BYTES);
    if (text === null) throw new JwksFetchError(`JWKS larger than ${MAX_JWKS_BYTES} bytes`);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new JwksFetchError("JWKS is not JSON");
    }
    const keys = (doc as { keys?: unknown })?.keys;
    if (!Array.isArray(keys)) throw new JwksFetchError("JWKS has no keys array");
    // Only asymmetric public keys: an `oct` key in the set would be a shared secret.
    const usable = keys.filter((k) => k && typeof k === "object" && (k.kty === "RSA" || k.kty === "EC"))
      .slice(0, MAX_JWKS_KEYS);
    const { createLocalJWKSet } = await loadJose();
    const set: CachedSet = {
      url,
      fetchedAt: now,
      resolve: createLocalJWKSet({ keys: usable } as JSONWebKeySet),
    };
    this.#cached = set;
    return set;
  }
}

/** Reads at most `max` bytes of a body as UTF-8; null when it is longer. */
export async function readCapped(res: Response, max: number): Promise<string | null> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) return null;
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
    if (total > max) await settleQuietly(res.body.cancel(), "cleanup");
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/** Checks `token`; never throws (every failure is a `verified: false` verdict with a reason). */
export async function verifyToken(
  token: string,
  expect: TokenExpectations,
  jwks: JwksCache,
): Promise<TokenVerdict> {
  const refuse = (error: string): TokenVerdict => ({ verified: false, error });
  if (token.length > MAX_TOKEN_LENGTH) return refuse(`token too long (max ${MAX_TOKEN_LENGTH} chars)`);
  if (!expect.audience) return refuse("IdP client_id not configured: the audience cannot be checked");
  const { decodeProtectedHeader, errors, jwtVerify } = await loadJose();
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    return refuse("invalid token: not a JWS compact serialisation");
  }
  if (typeof alg !== "string" || alg === "" || alg.toLowerCase() === "none") {
    return refuse("invalid token: unsigned tokens (alg none) are refused");
  }
  if (/^HS/i.test(alg)) return refuse(`invalid token: symmetric algorithm ${alg} refused`);
  if (!ACCEPTED_ALGORITHMS.includes(alg)) return refuse(`invalid token: algorithm ${alg} not accepted`);

  const options = {
    algorithms: [...ACCEPTED_ALGORITHMS],
    audience: expect.audience,
    ...(expect.issuer ? { issuer: expect.issuer } : {}),
    requiredClaims: ["exp"],
    clockTolerance: CLOCK_TOLERANCE_S,
    currentDate: new Date(expect.now),
  };
  try {
    let set = await jwks.get(expect.jwksUrl, expect.now);
    let result;
    try {
      result = await jwtVerify(token, set.resolve, options);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // A key the cached set lacks may be a fresh rotation at the IdP: refetch once.
      const fresh = await jwks.refetch(expect.jwksUrl, expect.now);
      if (!fresh) throw err;
      set = fresh;
      result = await jwtVerify(token, set.resolve, options);
    }
    const { payload } = result;
    return {
      verified: true,
      subject: typeof payload.sub === "string" ? payload.sub : "",
      issuer: typeof payload.iss === "string" ? payload.iss : "",
    };
  } catch (err) {
    return refuse(describe(err, errors));
  }
}

function describe(err: unknown, errors: Jose["errors"]): string {
  if (err instanceof JwksFetchError) return err.message;
  if (err instanceof errors.JWTExpired) return "token expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "nbf") return "token not yet valid (nbf)";
    if (err.claim === "aud") return "invalid token audience";
    if (err.claim === "iss") return "invalid token issuer";
    if (err.claim === "exp") return "invalid token: exp claim required";
    return `invalid token claim ${err.claim}: ${err.reason}`;
  }
  if (err instanceof errors.JWKSNoMatchingKey) return "invalid token: no matching key in the IdP's JWKS";
  if (err instanceof errors.JWKSMultipleMatchingKeys) return "invalid token: several JWKS keys match";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "invalid token signature";
  if (err instanceof errors.JOSEAlgNotAllowed) return "invalid token: algorithm not accepted";
  if (err instanceof errors.JOSEError) return `invalid token: ${err.message}`;
  return `invalid token: ${(err as Error)?.message ?? String(err)}`;
}
