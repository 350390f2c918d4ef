/**
 * The port-444 trust handshake message (docs/protocol/services.md §1.1): one JSON object per
 * connection with seven keys, signed over `handshake:<sender>:<receiver>`. This module
 * is pure: it encodes, decodes and validates the shape, checks the clock window, and
 * computes the replay key. Any input problem raises {@link HandshakeCodecError} only.
 * @module
 */
import { primitives } from "../../crypto/primitives.ts";
import { errorMessage, PilotError } from "../../errors.ts";
import { toHex, utf8 } from "../../bytes.ts";

/** Largest message accepted or sent: one 4096-byte segment, as the reference reads one chunk. */
export const MAX_MESSAGE_BYTES = 4096;
/** Longest justification or reason text we send (the registry relays at most this much). */
export const MAX_TEXT_LENGTH = 1024;
/** A message older than this (seconds, by the sender's clock) is dropped. */
export const MAX_MESSAGE_AGE_S = 5 * 60;
/** A message dated further ahead than this (seconds) is dropped. */
export const MAX_CLOCK_AHEAD_S = 30;
/** Largest node id (u32). */
const MAX_NODE_ID = 0xffff_ffff;

/** Message types (docs/protocol/services.md §1.1). */
export const HandshakeType = {
  Request: "handshake_request",
  Accept: "handshake_accept",
  Reject: "handshake_reject",
  Revoke: "handshake_revoke",
} as const;

/** One of the four known message types. */
export type KnownHandshakeType = typeof HandshakeType[keyof typeof HandshakeType];

/** The reason text a revoke carries. */
export const REVOKE_REASON = "trust revoked";

/**
 * A decoded message. `type` stays a string because unknown types must decode (and be
 * ignored at dispatch) rather than fail; missing keys decode as their zero values,
 * as a Go struct would.
 */
export interface HandshakeMessage {
  type: string;
  /** The sender's node id. */
  node_id: number;
  /** Sender's Ed25519 public key, standard base64, or "". */
  public_key: string;
  justification: string;
  /** Base64 Ed25519 signature of `handshake:<node_id>:<receiver>`. */
  signature: string;
  reason: string;
  /** Sender clock, Unix seconds. */
  timestamp: number;
}

/** A message could not be decoded or encoded (malformed JSON, wrong field type, too large). */
export class HandshakeCodecError extends PilotError {}

/** Key order of the Go struct; the wire form and the replay key both use it. */
const KEYS = ["type", "node_id", "public_key", "justification", "signature", "reason", "timestamp"] as const;
const STRING_KEYS = new Set(["type", "public_key", "justification", "signature", "reason"]);

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The string every handshake signature covers: `handshake:<sender>:<receiver>` (decimal ids). */
export function handshakeSigningText(sender: number, receiver: number): string {
  return `handshake:${sender}:${receiver}`;
}

/** The canonical JSON text of `msg`: all seven keys in the reference's order. */
export function canonicalText(msg: HandshakeMessage): string {
  const parts = KEYS.map((k) => `${JSON.stringify(k)}:${JSON.stringify(msg[k])}`);
  return `{${parts.join(",")}}`;
}

/**
 * Encodes `msg` for the wire. Throws {@link HandshakeCodecError} when a field is out of
 * range or the result does not fit one segment ({@link MAX_MESSAGE_BYTES}).
 */
export function encodeHandshake(msg: HandshakeMessage): Uint8Array {
  checkNodeId(msg.node_id);
  if (!Number.isSafeInteger(msg.timestamp)) {
    throw new HandshakeCodecError(`timestamp must be an integer, got ${msg.timestamp}`);
  }
  const bytes = utf8(canonicalText(msg));
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw new HandshakeCodecError(
      `handshake message is ${bytes.length} bytes, more than one ${MAX_MESSAGE_BYTES}-byte segment`,
    );
  }
  return bytes;
}

/**
 * Decodes one received message. Unknown keys are ignored and missing keys take zero
 * values; a key present with the wrong JSON type, a node id outside u32, a
 * non-integer timestamp, invalid UTF-8, non-object JSON or more than
 * {@link MAX_MESSAGE_BYTES} bytes throw {@link HandshakeCodecError}.
 */
export function decodeHandshake(bytes: Uint8Array): HandshakeMessage {
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw new HandshakeCodecError(`handshake message longer than ${MAX_MESSAGE_BYTES} bytes`);
  }
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new HandshakeCodecError("handshake message is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HandshakeCodecError(`handshake message is not JSON: ${errorMessage(err)}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new HandshakeCodecError("handshake message is not a JSON object");
  }
  const obj = value as Record<string, unknown>;
  const msg: HandshakeMessage = {
    type: "",
    node_id: 0,
    public_key: "",
    justification: "",
    signature: "",
    reason: "",
    timestamp: 0,
  };
  for (const key of KEYS) {
    if (!Object.hasOwn(obj, key)) continue;
    const v = obj[key];
    if (v === null) continue; // Go leaves the zero value for a JSON null
    if (STRING_KEYS.has(key)) {
      if (typeof v !== "string") throw new HandshakeCodecError(`"${key}" must be a string`);
      (msg as unknown as Record<string, string>)[key] = v;
    } else if (key === "node_id") {
      if (typeof v !== "number") throw new HandshakeCodecError(`"node_id" must be a number`);
      checkNodeId(v);
      msg.node_id = v;
    } else {
      if (typeof v !== "number" || !Number.isSafeInteger(v)) {
        throw new HandshakeCodecError(`"timestamp" must be an integer`);
      }
      msg.timestamp = v;
    }
  }
  return msg;
}

/** How a message's timestamp compares with our clock. */
export type Freshness = "fresh" | "too-old" | "future";

/** Checks the clock window of §1.2 step 1 against `nowS` (Unix seconds). */
export function freshness(timestamp: number, nowS: number): Freshness {
  if (nowS - timestamp > MAX_MESSAGE_AGE_S) return "too-old";
  if (timestamp - nowS > MAX_CLOCK_AHEAD_S) return "future";
  return "fresh";
}

/** The replay-cache key of a message: hex SHA-256 of its canonical form. */
export function replayKey(msg: HandshakeMessage): string {
  return toHex(primitives.sha256(utf8(canonicalText(msg))));
}

function checkNodeId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_NODE_ID) {
    throw new HandshakeCodecError(`node_id must be a u32, got ${id}`);
  }
}
