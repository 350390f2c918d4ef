/**
 * The signing dialects of the registry client: our `auth` form (strict), the reference
 * registry's static challenges, or both; and how `auto` mode tells which one a registry speaks.
 * Pure of the connection: the client hands in the identity, the clock and a way to send a probe.
 * @module
 */
import { toBase64, utf8 } from "../bytes.ts";
import { signEd25519Async } from "../crypto/ed25519.ts";
import { signRequest, staticChallenge } from "./auth.ts";
import { RegistryReplyError } from "./errors.ts";
import type { WireMessage } from "./wire.ts";

/** Which signatures the client attaches. */
export type SigningMode = "strict" | "reference" | "both";

export { REGISTRY_AUTH_MODES, type RegistryAuthMode } from "./auth_modes.ts";

/**
 * The reference registry's refusal of a request that carries no static
 * `signature` (our `auth` form included), recorded from it verbatim.
 */
export const REFERENCE_SIGNATURE_REQUIRED = "signature required for authenticated node";

/**
 * Signs `message` with `seed` in `mode`: the static `signature` unless strict (a handshake
 * request carries its own), then our `auth` form, stamped `nowMs`, unless reference.
 */
export async function signInMode(
  message: WireMessage,
  seed: Uint8Array,
  mode: SigningMode,
  nowMs: number,
): Promise<WireMessage> {
  let out = message;
  if (mode !== "strict") {
    const challenge = staticChallenge(out);
    if (challenge !== null && out.type !== "request_handshake") {
      out = { ...out, signature: toBase64(await signEd25519Async(seed, utf8(challenge))) };
    }
  }
  if (mode !== "reference") out = await signRequest(out, seed, nowMs);
  return out;
}

/**
 * Learns which signatures the registry accepts by sending a heartbeat (harmless, and
 * the first thing a daemon does anyway) in our form; when that is refused, in the
 * reference's static form. The reference refuses our form with
 * {@link REFERENCE_SIGNATURE_REQUIRED}; ours refuses the static form unless it runs
 * `--compat reference`, in which case it also accepts ours, which is preferred. So:
 * strict if our form passes, reference if the static form passes or the refusal is
 * the reference's, strict otherwise (the caller's heartbeat failures and
 * re-registration then retry detection). Transport failures (anything but a
 * RegistryReplyError) propagate. The probes name their form explicitly, so calls
 * made meanwhile keep the client's current mode.
 */
export async function detectSigningDialect(
  heartbeat: (mode: SigningMode) => Promise<unknown>,
): Promise<SigningMode> {
  let refusal: RegistryReplyError;
  try {
    await heartbeat("strict");
    return "strict";
  } catch (err) {
    if (!(err instanceof RegistryReplyError)) throw err;
    refusal = err;
  }
  try {
    await heartbeat("reference");
    return "reference";
  } catch (err) {
    if (!(err instanceof RegistryReplyError)) throw err;
    return refusal.message.includes(REFERENCE_SIGNATURE_REQUIRED) ? "reference" : "strict";
  }
}
