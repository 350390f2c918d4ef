/**
 * The daemon's half of the beacon hardening (docs/compat.md "Hardening: beacon"): Discover and
 * PunchRequest messages carrying a proof signed with the node's identity key (so the beacon binds
 * our node ID to our address only for us), and the rule that decides whether a PunchCommand may be
 * obeyed, so a forged command cannot turn the daemon into a PILP reflector. Pure apart from the
 * signer and the clock passed in.
 */
import { type BeaconMessage, encodeBeaconMessage } from "../beacon/messages.ts";
import { appendProof, ECHO_TOKEN_SIZE } from "../beacon/proof.ts";

/**
 * A PunchCommand without our echo token is obeyed this long after one of our own PunchRequests
 * (a reference beacon sends no token): the command then plausibly answers our exchange.
 */
export const PUNCH_ANSWER_WINDOW_MS = 3_000;

/** Why a PunchCommand was obeyed, or "unvouched" when it was refused. */
export type PunchVouch = "token" | "known-peer" | "requested" | "unvouched";

/**
 * Builds our beacon messages (signed when a signer is available) and judges PunchCommands. One per
 * NatTraversal; the echo token is random per daemon run.
 */
export class BeaconProofs {
  readonly token: Uint8Array = crypto.getRandomValues(new Uint8Array(ECHO_TOKEN_SIZE));
  #lastTimestamp = 0;
  /** Unanswered PunchRequests we sent, by send time; each lets through one tokenless command. */
  #requested: number[] = [];

  /**
   * Encodes `message` (`now` is a monotonic clock for the answer window); a Discover with a node ID or a PunchRequest is signed when `sign` is given
   * (timestamps strictly increase, so the beacon can refuse a replay).
   */
  encode(
    message: BeaconMessage,
    sign: ((bytes: Uint8Array) => Uint8Array) | undefined,
    now: number,
  ): Uint8Array {
    const bytes = encodeBeaconMessage(message);
    if (message.kind === "PunchRequest") this.#noteRequest(now);
    const signable = (message.kind === "Discover" && message.node !== 0) || message.kind === "PunchRequest";
    if (!signable || !sign) return bytes;
    // The proof's timestamp is wall-clock ms (the beacon compares it with its own clock).
    this.#lastTimestamp = Math.max(Math.floor(Date.now()), this.#lastTimestamp + 1);
    return appendProof(bytes, this.#lastTimestamp, this.token, sign);
  }

  /**
   * Whether a PunchCommand toward `endpointKey` may be obeyed: it carries our echo token (our
   * beacon answering our signed exchange), or the endpoint is one a peer of ours already has (the
   * registry's answer or authenticated traffic put it there), or it arrives within
   * {@link PUNCH_ANSWER_WINDOW_MS} of a PunchRequest of ours not yet answered.
   */
  vouch(
    command: Extract<BeaconMessage, { kind: "PunchCommand" }>,
    endpointKey: string,
    knownEndpoints: () => ReadonlySet<string>,
    now: number,
  ): PunchVouch {
    this.#requested = this.#requested.filter((at) => now - at <= PUNCH_ANSWER_WINDOW_MS);
    if (command.token && equalBytes(command.token, this.token)) {
      this.#requested.shift(); // the answer to our latest request came with the token
      return "token";
    }
    if (knownEndpoints().has(endpointKey)) return "known-peer";
    if (this.#requested.length > 0) {
      this.#requested.shift();
      return "requested";
    }
    return "unvouched";
  }

  #noteRequest(now: number): void {
    this.#requested.push(now);
    if (this.#requested.length > 64) this.#requested.shift();
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
