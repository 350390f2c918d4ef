/**
 * The tunnel's counters, for `pilot info` and metrics: traffic totals, crypto work, and every
 * dropped datagram or packet under one named reason, so a drop is never silent.
 */

/** Why the tunnel dropped a datagram (inbound) or a packet (outbound). */
export const DROP_REASONS = [
  // inbound, frame level
  "bad-frame", // empty, short, unknown magic, truncated body
  "self", // a frame claiming our own node ID
  "no-node-id", // frame or send before setNodeId
  "unknown-sender", // PILS from a node we hold no key for (a key exchange is offered)
  "replay", // PILS counter already seen or too old
  "auth-failure", // AES-GCM tag did not verify
  "checksum", // inner packet CRC mismatch
  "bad-packet", // inner packet short, truncated or wrong version
  "spoofed-source", // inner packet Src.node differs from the frame's sender
  "relay-mismatch", // relayed frame whose sender differs from the RelayDeliver sender
  "plaintext-refused", // PILT while encryption is on and plaintext is not allowed
  // inbound, key exchange
  "encryption-off", // PILK/PILA while encryption is disabled locally
  "pilk-refused", // PILK not allowed by policy, or from a node that has a registered key
  "unknown-key", // PILA from a node the registry has no key for
  "key-mismatch", // PILA Ed25519 key differs from the registry's
  "bad-signature", // PILA signature does not verify
  "stale-key", // key exchange offering a peer X25519 key we already retired (replayed PILA)
  "downgrade", // PILK for a peer that has an authenticated context
  "kx-rate-limited", // key-exchange work refused by the global budget or the per-node queue
  "kx-source-limited", // key exchange refused by its source address's budget
  "kx-node-limited", // key exchange refused by its claimed node ID's budget
  "kx-failed", // derivation failed (low-order key) or the registry lookup threw
  // beacon
  "beacon-source", // beacon message not from the configured beacon
  "bad-beacon", // undecodable beacon message
  // outbound
  "no-route", // no endpoint and not in relay mode (or relay without a beacon)
  "peer-table-full", // a new peer entry was needed but the table is at its limit
  "queue-full", // oldest pending packet dropped from a full per-peer queue
  "too-many-queues", // key exchange needed but 256 peers already have queues
  "kx-timeout", // key exchange never completed; pending packets given up
  "bad-packet-out", // a packet that cannot be encoded
  "send-error", // the kernel refused the datagram
  "oversize", // datagram larger than UDP allows
  "injected-drop", // fault injection
  "closed", // send after close
] as const;

/** One of {@link DROP_REASONS}. */
export type DropReason = typeof DROP_REASONS[number];

/** Counter snapshot returned by `Tunnel.stats()`. */
export interface TunnelStats {
  /** UDP datagrams handed to the socket / bytes in them (all frame kinds, beacon traffic included). */
  datagramsSent: number;
  bytesSent: number;
  /** UDP datagrams / bytes received on the socket. */
  datagramsReceived: number;
  bytesReceived: number;
  /** Overlay packets sent (any framing) and delivered to `onPacket`. */
  packetsSent: number;
  packetsDelivered: number;
  /** PILS frames sealed and opened. */
  framesEncrypted: number;
  framesDecrypted: number;
  /** PILS frames whose tag did not verify (also counted under drops["auth-failure"]). */
  decryptFailures: number;
  /** Key-exchange frames sent and accepted; re-derivations (peer restart or counter rotation). */
  keyExchangesSent: number;
  keyExchangesAccepted: number;
  rekeys: number;
  /** Fault injection activity (zero when disabled). */
  injectedDuplicates: number;
  injectedReorders: number;
  drops: Record<DropReason, number>;
  peers: number;
  encryptedPeers: number;
  authenticatedPeers: number;
  relayPeers: number;
  /** NAT traversal: PunchCommands obeyed, PILP frames received, relayed peers moved back to a direct path. */
  punchCommands: number;
  punchesReceived: number;
  directRecoveries: number;
  /** Peer endpoints moved by an authenticated, fresh PILS from a new address (roaming). */
  endpointChanges: number;
  /** Sealed pings sent to a new address an authenticated key exchange came from, to prove it. */
  pathProbes: number;
  /** Peer entries forgotten because nothing authenticated them (see UNPROVEN_PEER_TTL_MS). */
  peersExpired: number;
  /** Packets waiting for a key exchange, over all peers. */
  pendingPackets: number;
  /** Seals and opens in flight. */
  cryptoInFlight: number;
}

/** A fresh all-zero drop table. */
export function emptyDrops(): Record<DropReason, number> {
  const drops = {} as Record<DropReason, number>;
  for (const reason of DROP_REASONS) drops[reason] = 0;
  return drops;
}

/**
 * Path a peer's frames take, for the peer list: "punched" is a direct path to an endpoint the
 * beacon told us to punch (a NAT hole), "direct" one that needed no punching.
 */
export type PeerPath = "direct" | "punched" | "relay";

/**
 * Rows in `pilot info`'s peer list at most, so the reply always fits one IPC frame (a row is
 * about 110 bytes of JSON); `peers` still counts every entry.
 */
export const MAX_PEER_ROWS = 2048;

/** One row of `pilot info`'s peer list (snake_case keys as the CLI prints them). */
export interface PeerInfo {
  node_id: number;
  /** "ip:port" ("[v6]:port" for IPv6), or "" when only reachable through the relay. */
  endpoint: string;
  encrypted: boolean;
  authenticated: boolean;
  path: PeerPath;
  /** Packets queued for the key exchange. */
  pending: number;
}

/** Mutable counters behind {@link TunnelStats}, shared by the tunnel's stages. */
export interface TunnelCounters {
  datagramsSent: number;
  bytesSent: number;
  datagramsReceived: number;
  bytesReceived: number;
  packetsSent: number;
  packetsDelivered: number;
  framesEncrypted: number;
  framesDecrypted: number;
  keyExchangesSent: number;
  keyExchangesAccepted: number;
  rekeys: number;
  punchCommands: number;
  punchesReceived: number;
  directRecoveries: number;
  endpointChanges: number;
  pathProbes: number;
  peersExpired: number;
  drops: Record<DropReason, number>;
}

/** Fresh all-zero counters. */
export function newCounters(): TunnelCounters {
  return {
    datagramsSent: 0,
    bytesSent: 0,
    datagramsReceived: 0,
    bytesReceived: 0,
    packetsSent: 0,
    packetsDelivered: 0,
    framesEncrypted: 0,
    framesDecrypted: 0,
    keyExchangesSent: 0,
    keyExchangesAccepted: 0,
    rekeys: 0,
    punchCommands: 0,
    punchesReceived: 0,
    directRecoveries: 0,
    endpointChanges: 0,
    pathProbes: 0,
    peersExpired: 0,
    drops: emptyDrops(),
  };
}
