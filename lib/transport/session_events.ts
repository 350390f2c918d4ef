/**
 * What the session manager reports to an observer (the daemon turns these into webhooks,
 * docs/protocol/services.md §9): SYNs and datagrams the trust gate refused, SYNs the rate limiter dropped, and
 * the lifecycle of connections (accepted, then ended by the peer's FIN, an RST or the idle
 * timeout). Nothing is built unless an observer is set.
 * @module
 */
import type { Address } from "../protocol/address.ts";
import type { Stream } from "./stream.ts";

/**
 * One session event, by `kind`:
 * - `syn-rejected` / `datagram-rejected`: the trust gate refused a SYN or a datagram from `src`.
 * - `syn-rate-limited`: a SYN dropped by the global (`scope: "global"`) or the per-source bucket.
 * - `syn-received`, then `established`: a peer's SYN was admitted and the connection created
 *   (it is ESTABLISHED once the SYN+ACK is out).
 * - `fin` / `rst` / `idle-timeout`: a connection stopped because the peer sent FIN, an RST
 *   arrived, or it idled out. Connections we closed or aborted ourselves raise none.
 *
 * Connection events carry the stream itself (id, addresses and ports are read from it).
 */
export type SessionEvent =
  | { kind: "syn-rejected" | "datagram-rejected"; src: Address; srcPort: number; dstPort: number }
  | { kind: "syn-rate-limited"; src: Address; srcPort: number; dstPort: number; scope: "global" | "source" }
  | { kind: "syn-received" | "established" | "fin" | "rst" | "idle-timeout"; stream: Stream };
