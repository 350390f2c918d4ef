/**
 * Sample data for the daemon status page's unit tests: a daemon with a peer on each path, a
 * connection, a pending request and events. `hostile` puts markup into every user-supplied field.
 * @module
 */
import type { DaemonPageView } from "../daemon_page.ts";
import { foldHealth } from "../health.ts";

/** A `<script>` payload that must come out as text. */
export const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>`;

/** A daemon page view; `hostile` puts {@link HOSTILE} into the hostname, justification and event data. */
export function sampleDaemonView(hostile = false): DaemonPageView {
  const t = Date.UTC(2026, 0, 2, 3, 4, 5);
  return {
    node: {
      nodeId: 7,
      address: "0:0000.0000.0007",
      hostname: hostile ? HOSTILE : "alpha",
      uptimeSecs: 3725,
      publicKey: "q2d0ZXN0a2V5dGVzdGtleXRlc3RrZXl0ZXN0a2V5dGVzdGs=",
      endpoint: "198.51.100.7:4000",
      endpointSource: "discovered",
      beacon: "127.0.0.1:9001",
      encrypt: true,
    },
    health: foldHealth({
      tunnel: { ok: true },
      registry: { ok: false, reason: "2 heartbeat(s) failed: connection refused" },
      ipc: { ok: true },
    }),
    traffic: { bytesSent: 123_456, bytesRecv: 7_890_123, pktsSent: 120, pktsRecv: 5_000 },
    peers: [
      {
        nodeId: 8,
        address: "0:0000.0000.0008",
        endpoint: "127.0.0.1:4001",
        path: "direct",
        encrypted: true,
        authenticated: true,
        rttMs: 0.42,
      },
      {
        nodeId: 9,
        address: "0:0000.0000.0009",
        endpoint: "203.0.113.9:5000",
        path: "punched",
        encrypted: true,
        authenticated: false,
        rttMs: 31,
      },
      {
        nodeId: 10,
        address: "0:0000.0000.000A",
        endpoint: "",
        path: "relay",
        encrypted: true,
        authenticated: true,
      },
    ],
    connections: [{
      id: 3,
      localPort: 49152,
      remoteAddr: "0:0000.0000.0008",
      remotePort: 1001,
      state: "ESTABLISHED",
      srttMs: 1.5,
      bytesSent: 5_000_000,
      bytesRecv: 1_000,
      sendRate: 2_500_000,
      recvRate: 500,
      retransmits: 2,
    }],
    trust: {
      trusted: [{ nodeId: 8, address: "0:0000.0000.0008", mutual: true, approvedAt: t - 60_000 }],
      pending: [{
        nodeId: 11,
        address: "0:0000.0000.000B",
        justification: hostile ? HOSTILE : "let me in",
        receivedAt: t - 5_000,
      }],
      asking: [{ nodeId: 12, address: "0:0000.0000.000C", askedAt: t - 12_000 }],
    },
    ports: [{ port: 7, service: "echo" }, { port: 444, service: "trust handshake" }, {
      port: 5555,
      service: "",
    }],
    exposed: [{ port: 8080, target: "127.0.0.1:3000", active: 2 }],
    gateway: {
      subnet: "127.77.0.0/16",
      mappings: [{ localIp: "127.77.0.1", address: "0:0000.0000.0002", active: 1 }],
    },
    events: [
      {
        t: t - 1_000,
        event: "handshake.received",
        data: { peer_node_id: 11, justification: hostile ? HOSTILE : "hi" },
        count: 1,
      },
      { t: t - 2_000, event: "tunnel.established", data: { peer_node_id: 8, relay: false }, count: 3 },
    ],
    generatedAt: t,
  };
}
