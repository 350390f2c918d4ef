/**
 * Where a peer is, and what may change it (roaming as WireGuard does it): a peer's endpoint moves
 * only on a frame that is authenticated and fresh — a PILS that opened with a counter its replay
 * window had not seen — and a relayed peer is switched to the relay only by such a frame arriving
 * through the beacon. A key exchange (PILA, PILK) proves who sent it but not when: a captured PILA
 * replayed from elsewhere is still valid. So one from a new address moves nothing; it is answered
 * there (our key-exchange frame, and once a session exists a sealed port-0 ping, a path probe),
 * and the peer's answer — a fresh PILS from that address — is what moves it.
 */
import { Address } from "../protocol/address.ts";
import { PROTO_CONTROL, PROTOCOL_VERSION } from "../protocol/header.ts";
import type { Packet } from "../protocol/packet.ts";
import { PORT_CONTROL, PORT_PING } from "../protocol/ports.ts";
import type { TunnelCore } from "./core.ts";
import type { Endpoint } from "./endpoint.ts";
import type { Initiator } from "./initiator.ts";
import type { Peer } from "./peer.ts";
import { writeRelayHeader } from "./route.ts";
import type { Sender } from "./send.ts";
import { RELAY_HEADER_SIZE } from "../beacon/messages.ts";

/** Path probes sent for one peer at most this often (a replayed PILA costs at most one per interval). */
export const PATH_PROBE_INTERVAL_MS = 1_000;

/**
 * The path probe: a port-0 Control ping (docs/protocol/wire.md §7) from our control port, which every peer
 * answers with a pong — a PILS sealed with the session, from wherever the peer really is. Our
 * session layer drops the pong (no ping of its own waits on that port).
 */
export function pathProbe(from: number, to: number): Packet {
  return {
    version: PROTOCOL_VERSION,
    flags: 0,
    protocol: PROTO_CONTROL,
    src: new Address(0, from),
    dst: new Address(0, to),
    srcPort: PORT_CONTROL,
    dstPort: PORT_PING,
    seq: 0,
    ack: 0,
    window: 0,
    payload: new Uint8Array(0),
  };
}

/** Applies the roaming rules for one tunnel. */
export class Roaming {
  constructor(
    private readonly core: TunnelCore,
    private readonly sender: Sender,
    private readonly initiator: Initiator,
  ) {}

  /**
   * A key exchange with `peer` was accepted; it arrived at `from` (the beacon's address when
   * `relayed`). An endpoint is filled in when the peer had none; anything else moves nothing.
   * With `answer` (the caller's rate limit allows one), when the frame did not come the way we
   * send to the peer, our frame is sent back that way too (so a peer that really moved can finish
   * the exchange) and, direct, a path probe follows — unless the peer is on the relay.
   */
  keyExchangeFrom(peer: Peer, from: Endpoint, relayed: boolean, answer: boolean): void {
    const core = this.core;
    const path = peer.path;
    if (!relayed && !path.endpoint && !path.relay) path.endpoint = from;
    if (!answer) return;
    const route = core.route(peer);
    if (relayed) {
      if (route?.relay) return;
      const frame = core.keyExchangeFrame;
      if (!frame || !core.beacon || core.nodeId === undefined) return;
      const head = new Uint8Array(RELAY_HEADER_SIZE);
      writeRelayHeader(head, core.nodeId, peer.node);
      core.counters.keyExchangesSent++;
      core.emit(head, frame, core.beacon);
      return;
    }
    // A relayed peer's direct path is the NAT code's to probe (it may be forced onto the relay).
    if (path.relay || (route && route.to.equals(from))) return;
    this.initiator.sendTo(from);
    this.#probe(peer, from);
  }

  /** Sends a path probe to `to`, at most once per {@link PATH_PROBE_INTERVAL_MS} per peer. */
  #probe(peer: Peer, to: Endpoint): void {
    const core = this.core;
    const now = performance.now();
    if (!peer.session.ready || core.nodeId === undefined) return;
    if (now - peer.path.lastPathProbeAt < PATH_PROBE_INTERVAL_MS) return;
    peer.path.lastPathProbeAt = now;
    const bytes = this.sender.encode(pathProbe(core.nodeId, peer.node));
    if (!bytes) return;
    core.counters.pathProbes++;
    this.sender.seal(peer, bytes, to);
  }

  /**
   * A PILS from `peer` opened with a fresh counter under its current session, at `from`: the
   * proof. Direct, it moves the peer there (and off the relay); relayed, it puts the peer on the
   * relay unless a direct path carried authenticated traffic very recently.
   */
  freshPils(peer: Peer, from: Endpoint, relayed: boolean): void {
    const core = this.core;
    const path = peer.path;
    const now = core.now();
    peer.session.proven = true;
    peer.lastHeardAt = now;
    if (relayed) {
      const wasRelay = path.relay;
      path.relayedFrameSeen(now);
      if (!wasRelay && path.relay) {
        core.log.info("peer reached through the relay", { peer: peer.node });
        core.relayActivated(peer);
      }
      return;
    }
    path.lastDirectAt = now;
    if (!from.equals(path.endpoint)) {
      if (path.endpoint) {
        core.counters.endpointChanges++;
        core.log.info("peer endpoint changed", { peer: peer.node, from: path.endpoint.key, to: from.key });
      }
      path.endpoint = from;
    }
    // A relayed peer whose authenticated traffic now arrives directly has a working (punched)
    // path: answer along it. A stateful NAT passes our replies on the mapping the peer opened.
    if (path.relay) {
      path.relay = false;
      core.counters.directRecoveries++;
      core.log.info("peer reachable directly; leaving the relay", { peer: peer.node, at: from.key });
    }
  }
}
