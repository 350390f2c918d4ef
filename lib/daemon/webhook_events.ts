/**
 * Tunnel and session-layer webhooks (docs/protocol/services.md §9): the tunnel's and the session manager's
 * event hooks mapped to the reference's event names and `data` keys. Nothing is built while no
 * webhook URL or tap is set, and the hooks fire on key exchanges, SYNs, refusals and state changes only,
 * never per data packet.
 */
import { KeyedInterval } from "../tunnel/rate_limit.ts";
import type { TunnelEvent } from "../tunnel/events.ts";
import type { Tunnel } from "../tunnel/tunnel.ts";
import type { SessionEvent, SessionManager } from "../transport/manager.ts";
import type { WebhookEmitter } from "./webhooks.ts";

/**
 * `security.syn_rate_limited` is reported at most this often per source node: the event marks a
 * SYN flood, and one report per SYN would crowd every other event out of the webhook queue.
 */
export const SYN_RATE_LIMITED_EVENT_INTERVAL_MS = 1000;
/** Source nodes whose last `security.syn_rate_limited` report is remembered. */
const SYN_RATE_LIMITED_SOURCES = 4096;

/** The webhook name and `data` of one tunnel event. */
export function tunnelWebhook(e: TunnelEvent): [string, Record<string, unknown>] {
  switch (e.kind) {
    case "peer-added":
      return ["tunnel.peer_added", { peer_node_id: e.node, endpoint: e.endpoint }];
    case "established":
      return ["tunnel.established", {
        peer_node_id: e.node,
        authenticated: e.authenticated,
        relay: e.relay,
        rekeyed: e.rekeyed,
      }];
    case "relay-activated":
      return ["tunnel.relay_activated", { peer_node_id: e.node }];
    case "replay":
      return ["security.nonce_replay", { peer_node_id: e.node, counter: e.counter }];
  }
}

/** The webhook name and `data` of one session event. */
export function sessionWebhook(e: SessionEvent): [string, Record<string, unknown>] {
  switch (e.kind) {
    case "syn-rejected":
    case "datagram-rejected":
      return [e.kind === "syn-rejected" ? "syn.rejected" : "datagram.rejected", {
        src_node_id: e.src.node,
        src_addr: e.src.toString(),
        dst_port: e.dstPort,
      }];
    case "syn-rate-limited":
      return ["security.syn_rate_limited", { src_addr: e.src.toString(), src_port: e.srcPort }];
    case "syn-received":
    case "established": {
      const s = e.stream;
      return [e.kind === "established" ? "conn.established" : "conn.syn_received", {
        src_addr: s.remoteAddr.toString(),
        src_port: s.remotePort,
        dst_port: s.localPort,
        conn_id: s.id,
      }];
    }
    case "fin":
    case "rst":
    case "idle-timeout": {
      const s = e.stream;
      return [e.kind === "idle-timeout" ? "conn.idle_timeout" : `conn.${e.kind}`, {
        remote_addr: s.remoteAddr.toString(),
        remote_port: s.remotePort,
        local_port: s.localPort,
        conn_id: s.id,
      }];
    }
  }
}

/**
 * Emits the tunnel's and `manager`'s events as webhooks through `webhooks`. An observer already
 * set on either hook keeps being called first. Returns a function that restores the previous ones.
 */
export function attachWebhookEvents(
  tunnel: Tunnel,
  manager: SessionManager,
  webhooks: WebhookEmitter,
): () => void {
  const previousTunnel = tunnel.onEvent;
  const previousSession = manager.onEvent;
  let synFloods: KeyedInterval<number> | undefined;
  const onTunnel = (e: TunnelEvent) => {
    previousTunnel?.(e);
    if (webhooks.wanted) webhooks.emit(...tunnelWebhook(e));
  };
  const onSession = (e: SessionEvent) => {
    previousSession?.(e);
    if (!webhooks.wanted) return;
    if (e.kind === "syn-rate-limited") {
      synFloods ??= new KeyedInterval(SYN_RATE_LIMITED_EVENT_INTERVAL_MS, SYN_RATE_LIMITED_SOURCES);
      if (!synFloods.allow(e.src.node)) return;
    }
    webhooks.emit(...sessionWebhook(e));
  };
  tunnel.onEvent = onTunnel;
  manager.onEvent = onSession;
  return () => {
    if (tunnel.onEvent === onTunnel) tunnel.onEvent = previousTunnel;
    if (manager.onEvent === onSession) manager.onEvent = previousSession;
  };
}
