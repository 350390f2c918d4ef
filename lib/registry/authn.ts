/**
 * Checks what a request proves before its handler runs: a valid global admin
 * token (constant-time), our signed form (`auth`: timestamp window, nonce not
 * seen before, Ed25519 over the canonical request), and the reference's static
 * challenge signature. Signatures are verified synchronously (node:crypto, each
 * key prepared once: lib/crypto/ed25519_verifier.ts); the handler then re-checks
 * that the signer still holds the key.
 * @module
 */
import { constantTimeEqual, fromBase64, utf8 } from "../bytes.ts";
import { Ed25519Verifier } from "../crypto/ed25519_verifier.ts";
import { AUTH_WINDOW_MS, authMessage, parseAuth, SIGNER_FIELD, staticChallenge } from "./auth.ts";
import type { Authn, CompatMode } from "./ops/context.ts";
import type { NonceCache } from "./replay.ts";
import type { RegistryState } from "./state/model.ts";
import type { WireMessage } from "./wire.ts";

/** Settings the authenticator needs. */
export interface AuthnConfig {
  compat: CompatMode;
  adminToken: string;
  /**
   * Signed requests older than this are refused: nonces are not persisted, so
   * this stops a request captured before a restart from being replayed after it.
   */
  notBefore: number;
}

function decodeOr(text: string): Uint8Array {
  try {
    return fromBase64(text);
  } catch {
    return new Uint8Array(0);
  }
}

/** Verifies credentials against the current state. */
export class Authenticator {
  readonly verifier = new Ed25519Verifier();

  constructor(readonly state: RegistryState, readonly config: AuthnConfig, readonly nonces: NonceCache) {}

  /** What `req` proves. Never throws; failures are described in `failure`. */
  authenticate(req: WireMessage, now: number): Authn {
    const type = String(req.type);
    const token = typeof req.admin_token === "string" ? req.admin_token : "";
    const out: Authn = {
      node: 0,
      key: "",
      method: "none",
      staticValid: false,
      admin: token !== "" && this.config.adminToken !== "" &&
        constantTimeEqual(utf8(token), utf8(this.config.adminToken)),
      token,
      failure: "",
    };
    const field = SIGNER_FIELD[type];
    if (!field) return out;
    let nodeId = 0;
    let key: string;
    if (field === "public_key") {
      key = typeof req.public_key === "string" ? req.public_key : "";
    } else {
      const v = req[field];
      nodeId = typeof v === "number" ? v : 0;
      key = this.state.nodes.get(nodeId)?.publicKey ?? "";
    }
    if (!key) return out;
    const publicKey = () => decodeOr(key);
    // Only registered nodes' keys are worth keeping prepared: a registration's key is usually new.
    const keep = field !== "public_key";

    const wantStatic = this.config.compat === "reference" || type === "request_handshake";
    if (wantStatic && typeof req.signature === "string" && req.signature !== "") {
      const challenge = staticChallenge(req);
      if (challenge !== null) {
        out.staticValid = this.verifier.verify(
          key,
          publicKey,
          utf8(challenge),
          decodeOr(req.signature),
          keep,
        );
      }
    }

    const auth = parseAuth(req.auth);
    if (typeof auth === "string") {
      out.failure = auth;
    } else if (auth !== null) {
      if (Math.abs(now - auth.ts) > AUTH_WINDOW_MS) {
        out.failure = `auth.ts is outside the ±${AUTH_WINDOW_MS / 1000} s window of the registry clock`;
      } else if (auth.ts < this.config.notBefore) {
        out.failure = "auth.ts predates the registry's start; sign again";
      } else if (
        !this.verifier.verify(key, publicKey, authMessage(req, auth.ts, auth.nonce), decodeOr(auth.sig), keep)
      ) {
        out.failure = "auth.sig does not match the registered key";
      } else {
        // Admitted only after the signature checks out, so forgeries cannot burn nonces.
        const verdict = this.nonces.admit(auth.nonce, auth.ts + AUTH_WINDOW_MS, now);
        if (verdict === "replay") out.failure = "replayed request (nonce already used)";
        else if (verdict === "full") out.failure = "replay cache full; retry later";
        else {
          out.node = nodeId;
          out.key = key;
          out.method = "auth";
          return out;
        }
      }
      return out;
    }

    if (this.config.compat === "reference" && typeof req.signature === "string" && req.signature !== "") {
      if (out.staticValid) {
        out.node = nodeId;
        out.key = key;
        out.method = "static";
      } else if (staticChallenge(req) !== null) {
        out.failure = "signature does not match the registered key";
      }
    } else if (
      this.config.compat === "strict" && type !== "request_handshake" && typeof req.signature === "string" &&
      req.signature !== ""
    ) {
      out.failure = "reference-style static signatures are accepted only with --compat reference; use auth";
    }
    return out;
  }
}
