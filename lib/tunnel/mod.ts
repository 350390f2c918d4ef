/**
 * Tunnel layer public surface: the encrypted UDP tunnel between daemons ({@link Tunnel}), its
 * frame codecs (docs/protocol/wire.md §5), endpoints, counters and the fault-injection and UDP building blocks.
 */
export * from "./frames.ts";
export { Endpoint, EndpointError, type HostPort } from "./endpoint.ts";
export { type FaultCounters, type FaultOptions, FaultySocket, SeededRandom } from "./faults.ts";
export { MAX_PENDING_PER_PEER, MAX_QUEUED_PEERS, MAX_RETIRED_PEER_KEYS } from "./peer.ts";
export type { TunnelIdentity } from "./key_exchange.ts";
export { DROP_REASONS, type DropReason, type PeerInfo, type PeerPath, type TunnelStats } from "./stats.ts";
export {
  MAX_DATAGRAM_SIZE,
  openUdpSocket,
  SOCKET_BUFFER_BYTES,
  type UdpBackend,
  UdpError,
  type UdpSocket,
} from "./udp.ts";
export { type AesStrategy, MAX_PEERS, Tunnel, TunnelError, type TunnelOptions } from "./tunnel.ts";
export { Libcrypto, LibcryptoAesGcm, libcryptoUnavailable } from "../crypto/libcrypto_aes.ts";
export { REPLAY_EVENT_INTERVAL_MS, type TunnelEvent } from "./events.ts";
