/**
 * Request signing forms shared by client and server. Two forms exist:
 *
 * - the reference's static challenges (docs/protocol/registry.md §2.1), e.g. `set_tags:7`: no
 *   time and no body, so one captured signature authorises every later request
 *   of that kind. Accepted by the server only under `--compat reference`.
 * - ours, `auth: {ts, nonce, sig}`: `sig` covers a domain tag, the timestamp,
 *   a random nonce and a canonical serialisation of the whole request (minus
 *   `auth`). The server accepts it within ±60 s and remembers nonces for that
 *   window, so it can be neither replayed nor grafted onto another body.
 * @module
 */
import { fromBase64, toBase64, utf8 } from "../bytes.ts";
import { signEd25519Async } from "../crypto/ed25519.ts";
import type { WireMessage } from "./wire.ts";
import { canonicalJson } from "./canonical_json.ts";

export { canonicalJson };

/** Domain-separation tag at the start of every signed request. */
export const AUTH_DOMAIN = "pilot-registry-auth-v1";
/** Random bytes in a nonce. */
export const AUTH_NONCE_LENGTH = 16;
/** A timestamp further than this from the server's clock is refused. */
export const AUTH_WINDOW_MS = 60_000;

/** The `auth` object of a signed request. */
export interface RequestAuth {
  /** Unix milliseconds when the client signed. */
  ts: number;
  /** base64 of 16 random bytes. */
  nonce: string;
  /** base64 Ed25519 signature over `authMessage`. */
  sig: string;
}

/** The bytes signed for `request` (its `auth` key ignored) at `ts` with `nonce`. */
export function authMessage(request: WireMessage, ts: number, nonce: string): Uint8Array {
  const { auth: _ignored, ...body } = request;
  return utf8(`${AUTH_DOMAIN}\n${ts}\n${nonce}\n${canonicalJson(body)}`);
}

/** Returns `request` with a fresh `auth` signed by `seed` (the node's Ed25519 seed). */
export async function signRequest(
  request: WireMessage,
  seed: Uint8Array,
  now: number = Date.now(),
): Promise<WireMessage> {
  const nonce = toBase64(crypto.getRandomValues(new Uint8Array(AUTH_NONCE_LENGTH)));
  const sig = await signEd25519Async(seed, authMessage(request, now, nonce));
  const auth: RequestAuth = { ts: now, nonce, sig: toBase64(sig) };
  return { ...request, auth };
}

/** 16 bytes in padded standard base64: 21 characters, one carrying 2 bits and 4 zero bits, then `==`. */
const CANONICAL_NONCE = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/** Parses and shape-checks an `auth` value; null if absent, a string reason if malformed. */
export function parseAuth(value: unknown): RequestAuth | null | string {
  if (value === undefined || value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) return "auth must be an object";
  const a = value as Record<string, unknown>;
  if (typeof a.ts !== "number" || !Number.isSafeInteger(a.ts)) return "auth.ts must be an integer (unix ms)";
  if (typeof a.nonce !== "string" || typeof a.sig !== "string") {
    return "auth.nonce and auth.sig must be strings";
  }
  if (!CANONICAL_NONCE.test(a.nonce)) {
    // Not the padded form every signer sends: decoded to tell a short nonce from bad base64.
    try {
      if (fromBase64(a.nonce).length !== AUTH_NONCE_LENGTH) return "auth.nonce must be 16 bytes of base64";
    } catch {
      return "auth.nonce is not base64";
    }
  }
  return { ts: a.ts, nonce: a.nonce, sig: a.sig };
}

/** Which request field names the node whose key signs a message type, for every signed type. */
export const SIGNER_FIELD: Readonly<Record<string, string>> = {
  register: "public_key",
  heartbeat: "node_id",
  deregister: "node_id",
  rotate_key: "node_id",
  set_key_expiry: "node_id",
  set_visibility: "node_id",
  set_hostname: "node_id",
  set_tags: "node_id",
  set_task_exec: "node_id",
  resolve: "requester_id",
  resolve_hostname: "requester_id",
  list_nodes: "node_id",
  punch: "requester_id",
  report_trust: "node_id",
  revoke_trust: "node_id",
  request_handshake: "from_node_id",
  poll_handshakes: "node_id",
  respond_handshake: "node_id",
  create_network: "node_id",
  join_network: "node_id",
  leave_network: "node_id",
  delete_network: "node_id",
  rename_network: "node_id",
  invite_to_network: "inviter_id",
  poll_invites: "node_id",
  respond_invite: "node_id",
  kick_member: "node_id",
  promote_member: "node_id",
  demote_member: "node_id",
  transfer_ownership: "node_id",
  set_network_policy: "node_id",
  update_polo_score: "reporter_id",
};

const idText = (v: unknown): string => typeof v === "number" ? String(v) : "0";

/**
 * The reference's static challenge string for a message, or null if the
 * reference defines none for that type (docs/protocol/registry.md §2.1).
 */
export function staticChallenge(request: WireMessage): string | null {
  const r = request;
  switch (r.type) {
    case "rotate_key":
      return `rotate:${idText(r.node_id)}`;
    case "resolve":
      return `resolve:${idText(r.requester_id)}:${idText(r.node_id)}`;
    case "report_trust":
    case "revoke_trust":
      return `${r.type}:${idText(r.node_id)}:${idText(r.peer_id)}`;
    case "heartbeat":
      return `heartbeat:${idText(r.node_id)}`;
    case "punch":
      return `punch:${idText(r.node_a)}:${idText(r.node_b)}`;
    case "request_handshake":
      return handshakeChallenge(Number(r.from_node_id), Number(r.to_node_id));
    case "respond_handshake":
      return `respond:${idText(r.node_id)}:${idText(r.peer_id)}`;
    case "poll_handshakes":
    case "poll_invites":
      return `${r.type}:${idText(r.node_id)}`;
    case "respond_invite":
      return `respond_invite:${idText(r.node_id)}:${idText(r.network_id)}`;
    case "deregister":
    case "set_visibility":
    case "set_hostname":
    case "set_tags":
    case "set_task_exec":
    case "set_key_expiry":
      return `${r.type}:${idText(r.node_id)}`;
    case "join_network":
    case "leave_network":
      return `${r.type}:${idText(r.node_id)}:${idText(r.network_id)}`;
    case "invite_to_network":
      return `invite:${idText(r.inviter_id)}:${idText(r.network_id)}:${idText(r.target_node_id)}`;
    default:
      return null;
  }
}

/** The handshake relay challenge: what `request_handshake.signature` signs (and the receiver re-verifies). */
export function handshakeChallenge(from: number, to: number): string {
  return `handshake:${Number.isFinite(from) ? from : 0}:${Number.isFinite(to) ? to : 0}`;
}
