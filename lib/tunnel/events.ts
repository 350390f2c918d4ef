/**
 * What the tunnel reports to an observer (the daemon turns these into webhooks, docs/protocol/services.md §9):
 * a peer entry gaining a route, a completed key exchange, a peer moving to the beacon relay, and
 * PILS frames refused by the replay window. Reporting is optional and off the data path: nothing
 * is built unless an observer is set.
 */

/** Replay reports per peer are at most this often (a replay flood is one report per interval). */
export const REPLAY_EVENT_INTERVAL_MS = 1000;
/** Peers whose last replay report is remembered; beyond it, reports for new peers are skipped. */
export const REPLAY_EVENT_PEERS = 4096;

/**
 * One tunnel event, by `kind`:
 * - `peer-added`: a node got a direct route — added from the registry (`Tunnel.addPeer`, new or
 *   moved endpoint) or first heard from in a direct key exchange; `endpoint` is `host:port`.
 * - `established`: a key exchange installed a new context. `authenticated` for PILA, `relay` when
 *   the peer is reached through the beacon, `rekeyed` when it replaced a context with another key
 *   (the peer restarted).
 * - `relay-activated`: the peer is now reached through the beacon relay.
 * - `replay`: a PILS frame from the peer was refused by the replay window; `counter` is its nonce
 *   counter. Rate-limited per peer ({@link REPLAY_EVENT_INTERVAL_MS}).
 */
export type TunnelEvent =
  | { kind: "peer-added"; node: number; endpoint: string }
  | { kind: "established"; node: number; authenticated: boolean; relay: boolean; rekeyed: boolean }
  | { kind: "relay-activated"; node: number }
  | { kind: "replay"; node: number; counter: number };
