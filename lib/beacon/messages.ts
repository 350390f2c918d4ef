/**
 * Beacon message codecs (docs/protocol/wire.md §8): the single-byte-typed UDP messages between daemons
 * and beacons (and beacon to beacon). Pure byte work. Addresses are exposed as IP text;
 * the wire carries them as iplen(1) ‖ ip, with iplen 4 whenever the address is
 * IPv4-mappable and 16 otherwise. Like the reference, decoders ignore bytes after the
 * fixed fields; relayed frames are returned as views into the input (no copy).
 */
import { PilotError } from "../errors.ts";
import { formatIP, IPV4_SIZE, IPV6_SIZE, parseIP, unmapIPv4 } from "../net/ip.ts";
import { readU16, readU32, writeU16, writeU32 } from "../bytes.ts";

/** Daemon→beacon: "tell me my public endpoint" (also refreshes the beacon's table). */
export const BEACON_DISCOVER = 0x01;
/** Beacon→daemon: the observed source endpoint of a Discover. */
export const BEACON_DISCOVER_REPLY = 0x02;
/** Daemon→beacon: ask both sides of a pair to punch towards each other. */
export const BEACON_PUNCH_REQUEST = 0x03;
/** Beacon→daemon: punch towards this endpoint. */
export const BEACON_PUNCH_COMMAND = 0x04;
/** Daemon→beacon (or beacon→beacon): forward `frame` to `dest`. */
export const BEACON_RELAY = 0x05;
/** Beacon→daemon: a relayed frame from `sender`. */
export const BEACON_RELAY_DELIVER = 0x06;
/** Beacon→beacon gossip: the node IDs this beacon serves. */
export const BEACON_SYNC = 0x07;

/** Bytes of the type field. */
export const TYPE_SIZE = 1;
/** Bytes of a node ID field. */
export const NODE_SIZE = 4;
/** Bytes of a UDP port field. */
export const PORT_SIZE = 2;
/** Bytes of the iplen prefix. */
export const IPLEN_SIZE = 1;
/** Bytes of the Sync count field. */
export const SYNC_COUNT_SIZE = 2;
/** Largest node list a Sync can carry (the count is a u16). */
export const SYNC_MAX_NODES = 0xffff;
/** Discover size: type ‖ node. */
export const DISCOVER_SIZE = TYPE_SIZE + NODE_SIZE; // 5
/** PunchRequest size: type ‖ requester ‖ target. */
export const PUNCH_REQUEST_SIZE = TYPE_SIZE + 2 * NODE_SIZE; // 9
/** Relay header in front of the frame: type ‖ sender ‖ dest. */
export const RELAY_HEADER_SIZE = TYPE_SIZE + 2 * NODE_SIZE; // 9
/** RelayDeliver header in front of the frame: type ‖ sender. */
export const RELAY_DELIVER_HEADER_SIZE = TYPE_SIZE + NODE_SIZE; // 5
/**
 * Bytes of the echo token our beacon may append to a PunchCommand (docs/compat.md "Hardening:
 * beacon"): the token the receiving node put in its signed Discover, so it can tell the command
 * answers its own beacon exchange. Reference daemons read only the fixed fields and ignore it.
 */
export const PUNCH_TOKEN_SIZE = 8;
/** Sync header in front of the node list: type ‖ beacon id ‖ count. */
export const SYNC_HEADER_SIZE = TYPE_SIZE + NODE_SIZE + SYNC_COUNT_SIZE; // 7

const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

/** Every beacon message, discriminated by `kind`. IPs are text (dotted IPv4 or RFC 5952 IPv6). */
export type BeaconMessage =
  | { kind: "Discover"; node: number }
  | { kind: "DiscoverReply"; ip: string; port: number }
  | { kind: "PunchRequest"; requester: number; target: number }
  | { kind: "PunchCommand"; ip: string; port: number; token?: Uint8Array }
  | { kind: "Relay"; sender: number; dest: number; frame: Uint8Array }
  | { kind: "RelayDeliver"; sender: number; frame: Uint8Array }
  | { kind: "Sync"; beaconId: number; nodes: number[] };

/** The message kinds, in type-byte order. */
export type BeaconMessageKind = BeaconMessage["kind"];

/** Why a beacon message was rejected (decoding) or could not be built (encoding). */
export type BeaconMessageErrorReason =
  | "empty" // zero-length input
  | "unknown-type" // first byte is not 0x01..0x07
  | "truncated" // shorter than the type's fixed fields
  | "bad-ip-length" // iplen other than 4 or 16
  | "invalid-field"; // encoder given an out-of-range number, bad IP text or too many nodes

/**
 * Raised for every beacon message the codec refuses, with a machine-readable `reason` so
 * the beacon and daemon can count drops by cause.
 */
export class BeaconMessageError extends PilotError {
  constructor(readonly reason: BeaconMessageErrorReason, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Decodes one beacon message. Minimums follow docs/protocol/wire.md §8: Discover 5, DiscoverReply and
 * PunchCommand 1+1+iplen+2 with iplen ∈ {4,16}, PunchRequest 9, Relay 9 + frame, RelayDeliver
 * 5 + frame (frames may be empty), Sync 7 + 4·count. Bytes beyond the fixed fields are
 * ignored (Relay/RelayDeliver frames take the rest; exactly 8 after a PunchCommand are our echo
 * token, and a Discover/PunchRequest proof is read by proof.ts). Throws BeaconMessageError otherwise.
 */
export function decodeBeaconMessage(bytes: Uint8Array): BeaconMessage {
  if (bytes.length === 0) throw new BeaconMessageError("empty", "empty beacon message");
  const type = bytes[0];
  switch (type) {
    case BEACON_DISCOVER:
      need(bytes, DISCOVER_SIZE, "Discover");
      return { kind: "Discover", node: readU32(bytes, 1) };
    case BEACON_DISCOVER_REPLY:
    case BEACON_PUNCH_COMMAND: {
      const kind = type === BEACON_DISCOVER_REPLY ? "DiscoverReply" : "PunchCommand";
      need(bytes, TYPE_SIZE + IPLEN_SIZE, kind);
      const ipLength = bytes[1];
      if (ipLength !== IPV4_SIZE && ipLength !== IPV6_SIZE) {
        throw new BeaconMessageError("bad-ip-length", `${kind} iplen must be 4 or 16, got ${ipLength}`);
      }
      const ipAt = TYPE_SIZE + IPLEN_SIZE;
      need(bytes, ipAt + ipLength + PORT_SIZE, kind);
      // A 16-byte IPv4-mapped address reads back as dotted IPv4, as the reference prints it.
      const ip = formatIP(unmapIPv4(bytes.subarray(ipAt, ipAt + ipLength)));
      const port = readU16(bytes, ipAt + ipLength);
      const tokenAt = ipAt + ipLength + PORT_SIZE;
      if (kind === "PunchCommand" && bytes.length === tokenAt + PUNCH_TOKEN_SIZE) {
        return { kind, ip, port, token: bytes.slice(tokenAt) };
      }
      return { kind, ip, port };
    }
    case BEACON_PUNCH_REQUEST:
      need(bytes, PUNCH_REQUEST_SIZE, "PunchRequest");
      return { kind: "PunchRequest", requester: readU32(bytes, 1), target: readU32(bytes, 5) };
    case BEACON_RELAY:
      need(bytes, RELAY_HEADER_SIZE, "Relay");
      return {
        kind: "Relay",
        sender: readU32(bytes, 1),
        dest: readU32(bytes, 5),
        frame: bytes.subarray(RELAY_HEADER_SIZE),
      };
    case BEACON_RELAY_DELIVER:
      need(bytes, RELAY_DELIVER_HEADER_SIZE, "RelayDeliver");
      return {
        kind: "RelayDeliver",
        sender: readU32(bytes, 1),
        frame: bytes.subarray(RELAY_DELIVER_HEADER_SIZE),
      };
    case BEACON_SYNC: {
      need(bytes, SYNC_HEADER_SIZE, "Sync");
      const count = readU16(bytes, TYPE_SIZE + NODE_SIZE);
      need(bytes, SYNC_HEADER_SIZE + count * NODE_SIZE, "Sync");
      const nodes = new Array<number>(count);
      for (let i = 0; i < count; i++) nodes[i] = readU32(bytes, SYNC_HEADER_SIZE + i * NODE_SIZE);
      return { kind: "Sync", beaconId: readU32(bytes, 1), nodes };
    }
    default:
      throw new BeaconMessageError("unknown-type", `unknown beacon message type 0x${hex2(type)}`);
  }
}

/**
 * Encodes a beacon message into a fresh buffer. Node IDs must be u32, ports u16, IPs
 * strict literals (IPv4-mappable ones are sent as 4 bytes), Sync lists at most 65535 IDs;
 * violations throw BeaconMessageError("invalid-field"). The result always decodes back to
 * the same message (with IP text in canonical form).
 */
export function encodeBeaconMessage(message: BeaconMessage): Uint8Array<ArrayBuffer> {
  switch (message.kind) {
    case "Discover": {
      const out = new Uint8Array(DISCOVER_SIZE);
      out[0] = BEACON_DISCOVER;
      writeU32(out, 1, checkNode("node", message.node));
      return out;
    }
    case "DiscoverReply":
    case "PunchCommand": {
      const ip = ipBytes(message.ip);
      const port = checkPort(message.port);
      const token = message.kind === "PunchCommand" ? message.token : undefined;
      if (token !== undefined && (!(token instanceof Uint8Array) || token.length !== PUNCH_TOKEN_SIZE)) {
        throw new BeaconMessageError("invalid-field", `PunchCommand token must be ${PUNCH_TOKEN_SIZE} bytes`);
      }
      const fixed = TYPE_SIZE + IPLEN_SIZE + ip.length + PORT_SIZE;
      const out = new Uint8Array(fixed + (token?.length ?? 0));
      out[0] = message.kind === "DiscoverReply" ? BEACON_DISCOVER_REPLY : BEACON_PUNCH_COMMAND;
      out[1] = ip.length;
      out.set(ip, TYPE_SIZE + IPLEN_SIZE);
      writeU16(out, TYPE_SIZE + IPLEN_SIZE + ip.length, port);
      if (token) out.set(token, fixed);
      return out;
    }
    case "PunchRequest": {
      const out = new Uint8Array(PUNCH_REQUEST_SIZE);
      out[0] = BEACON_PUNCH_REQUEST;
      writeU32(out, 1, checkNode("requester", message.requester));
      writeU32(out, 5, checkNode("target", message.target));
      return out;
    }
    case "Relay": {
      checkBytes("frame", message.frame);
      const out = new Uint8Array(RELAY_HEADER_SIZE + message.frame.length);
      out[0] = BEACON_RELAY;
      writeU32(out, 1, checkNode("sender", message.sender));
      writeU32(out, 5, checkNode("dest", message.dest));
      out.set(message.frame, RELAY_HEADER_SIZE);
      return out;
    }
    case "RelayDeliver": {
      checkBytes("frame", message.frame);
      const out = new Uint8Array(RELAY_DELIVER_HEADER_SIZE + message.frame.length);
      out[0] = BEACON_RELAY_DELIVER;
      writeU32(out, 1, checkNode("sender", message.sender));
      out.set(message.frame, RELAY_DELIVER_HEADER_SIZE);
      return out;
    }
    case "Sync": {
      const { nodes } = message;
      if (!Array.isArray(nodes) || nodes.length > SYNC_MAX_NODES) {
        throw new BeaconMessageError("invalid-field", `Sync carries at most ${SYNC_MAX_NODES} nodes`);
      }
      const out = new Uint8Array(SYNC_HEADER_SIZE + nodes.length * NODE_SIZE);
      out[0] = BEACON_SYNC;
      writeU32(out, 1, checkNode("beaconId", message.beaconId));
      writeU16(out, TYPE_SIZE + NODE_SIZE, nodes.length);
      nodes.forEach((node, i) => writeU32(out, SYNC_HEADER_SIZE + i * NODE_SIZE, checkNode("nodes[]", node)));
      return out;
    }
    default:
      throw new BeaconMessageError(
        "invalid-field",
        `unknown beacon message kind ${(message as { kind: unknown }).kind}`,
      );
  }
}

function ipBytes(text: string): Uint8Array {
  try {
    return unmapIPv4(parseIP(text));
  } catch (err) {
    throw new BeaconMessageError("invalid-field", `bad ip ${JSON.stringify(text)}`, { cause: err });
  }
}

function need(bytes: Uint8Array, size: number, kind: string): void {
  if (bytes.length < size) {
    throw new BeaconMessageError("truncated", `${kind} needs ${size} bytes, got ${bytes.length}`);
  }
}

function checkNode(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new BeaconMessageError("invalid-field", `${name} must be a u32 node ID, got ${value}`);
  }
  return value;
}

function checkPort(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > U16_MAX) {
    throw new BeaconMessageError("invalid-field", `port must be 0..65535, got ${value}`);
  }
  return value;
}

function checkBytes(name: string, value: Uint8Array): void {
  if (!(value instanceof Uint8Array)) {
    throw new BeaconMessageError("invalid-field", `${name} must be a Uint8Array`);
  }
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
