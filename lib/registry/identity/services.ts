/**
 * The identity clients a registry holds for the life of the process: the JWKS
 * cache and the identity-webhook timeout. Configuration (URLs, IdP) lives in
 * state; this is only the I/O side.
 * @module
 */
import { JwksCache, type JwksCacheOptions } from "./jwt.ts";
import { IDENTITY_WEBHOOK_TIMEOUT_MS } from "./webhook.ts";

/** Tunables (tests shorten them). */
export interface IdentityServicesOptions extends JwksCacheOptions {
  webhookTimeoutMs?: number;
}

/** The registry's identity clients. */
export class IdentityServices {
  readonly jwks: JwksCache;
  readonly webhookTimeoutMs: number;

  constructor(options: IdentityServicesOptions = {}) {
    this.jwks = new JwksCache(options);
    this.webhookTimeoutMs = options.webhookTimeoutMs ?? IDENTITY_WEBHOOK_TIMEOUT_MS;
  }
}
