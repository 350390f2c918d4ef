/**
 * What the daemon's status page shows, gathered from the running daemon: its Info body,
 * health, the trust service's lists, listening ports, last ping RTTs and recent events,
 * plus per-connection throughput measured between two page loads.
 * @module
 */
import type { DaemonPageView, PeerRow } from "../http/daemon_page.ts";
import type { HealthReport } from "../http/health.ts";
import type { InfoReply } from "../ipc/replies.ts";
import { Address } from "../protocol/address.ts";
import {
  PORT_DATA_EXCHANGE,
  PORT_ECHO,
  PORT_EVENT_STREAM,
  PORT_HTTP,
  PORT_NAMESERVER,
  PORT_SECURE,
  PORT_STDIO,
  PORT_TASKS,
  PORT_TRUST,
} from "../protocol/ports.ts";
import type { TrustService } from "../services/trust/service.ts";
import type { RecentEvent } from "./recent_events.ts";

/** Rates are recomputed at most this often; a reload sooner shows the previous ones. */
export const THROUGHPUT_MIN_INTERVAL_MS = 1_000;

const SERVICE_NAMES: ReadonlyMap<number, string> = new Map([
  [PORT_ECHO, "echo"],
  [PORT_NAMESERVER, "nameserver"],
  [PORT_HTTP, "http"],
  [PORT_SECURE, "secure"],
  [PORT_TRUST, "trust handshake"],
  [PORT_STDIO, "stdio"],
  [PORT_DATA_EXCHANGE, "data exchange"],
  [PORT_EVENT_STREAM, "event stream"],
  [PORT_TASKS, "tasks"],
]);

/** The parts of a running daemon the view reads. */
export interface StatusViewSource {
  info(): InfoReply;
  /** The tunnel's bound UDP `host:port`, shown when no public endpoint was registered. */
  tunnelAddress(): string;
  health(): HealthReport;
  trust(): TrustService | undefined;
  listenerPorts(): number[];
  /** The RTT to a node in ms, if one was measured (open connections, else the last ping or connection). */
  peerRtt(node: number): number | undefined;
  recentEvents(): RecentEvent[];
}

interface ByteCounts {
  t: number;
  sent: number;
  recv: number;
}

/** Bytes/s per connection between two samples at least {@link THROUGHPUT_MIN_INTERVAL_MS} apart. */
export class ThroughputSampler {
  #last = new Map<number, ByteCounts>();
  #rates = new Map<number, { send: number; recv: number }>();

  /** Takes a sample of `conns` at `now` and returns the rates known for each (absent on the first). */
  sample(
    conns: { id: number; bytes_sent: number; bytes_recv: number }[],
    now: number,
  ): Map<number, { send: number; recv: number }> {
    const next = new Map<number, ByteCounts>();
    const rates = new Map<number, { send: number; recv: number }>();
    for (const c of conns) {
      const prev = this.#last.get(c.id);
      if (prev && now - prev.t < THROUGHPUT_MIN_INTERVAL_MS) {
        next.set(c.id, prev);
        const r = this.#rates.get(c.id);
        if (r) rates.set(c.id, r);
        continue;
      }
      next.set(c.id, { t: now, sent: c.bytes_sent, recv: c.bytes_recv });
      if (prev) {
        const secs = (now - prev.t) / 1000;
        rates.set(c.id, {
          send: Math.max(0, c.bytes_sent - prev.sent) / secs,
          recv: Math.max(0, c.bytes_recv - prev.recv) / secs,
        });
      }
    }
    this.#last = next; // connections that closed are forgotten
    this.#rates = rates;
    return rates;
  }
}

/** Builds {@link DaemonPageView}s for one daemon; keep one per daemon so throughput has history. */
export class DaemonStatusView {
  readonly #throughput = new ThroughputSampler();

  constructor(readonly source: StatusViewSource, readonly now: () => number = Date.now) {}

  view(): DaemonPageView {
    const s = this.source;
    const info = s.info();
    const now = this.now();
    const rates = this.#throughput.sample(info.conn_list, now);
    const trust = s.trust();
    return {
      node: {
        nodeId: info.node_id,
        address: info.address,
        hostname: info.hostname,
        uptimeSecs: info.uptime_secs,
        publicKey: info.public_key,
        endpoint: info.nat.public_endpoint || s.tunnelAddress(),
        endpointSource: info.nat.endpoint_source,
        beacon: info.nat.beacon,
        encrypt: info.encrypt,
      },
      health: s.health(),
      traffic: {
        bytesSent: info.bytes_sent,
        bytesRecv: info.bytes_recv,
        pktsSent: info.pkts_sent,
        pktsRecv: info.pkts_recv,
      },
      peers: info.peer_list.map((p): PeerRow => {
        const row: PeerRow = {
          nodeId: p.node_id,
          address: new Address(0, p.node_id).toString(),
          endpoint: p.endpoint,
          path: p.path,
          encrypted: p.encrypted,
          authenticated: p.authenticated,
        };
        const rtt = s.peerRtt(p.node_id);
        return rtt === undefined ? row : { ...row, rttMs: rtt };
      }),
      connections: info.conn_list.map((c) => ({
        id: c.id,
        localPort: c.local_port,
        remoteAddr: c.remote_addr,
        remotePort: c.remote_port,
        state: c.state,
        srttMs: c.srtt_ms,
        bytesSent: c.bytes_sent,
        bytesRecv: c.bytes_recv,
        sendRate: rates.get(c.id)?.send,
        recvRate: rates.get(c.id)?.recv,
        retransmits: c.retransmits,
      })),
      trust: trust
        ? {
          trusted: trust.trusted().map((t) => ({
            nodeId: t.node_id,
            address: new Address(0, t.node_id).toString(),
            mutual: t.mutual,
            approvedAt: t.approved_at * 1000,
          })),
          pending: trust.pending().map((p) => ({
            nodeId: p.node_id,
            address: new Address(0, p.node_id).toString(),
            justification: p.justification,
            receivedAt: p.received_at * 1000,
          })),
          asking: trust.asking().map((a) => ({
            nodeId: a.node_id,
            address: new Address(0, a.node_id).toString(),
            askedAt: a.asked_at * 1000,
          })),
        }
        : null,
      ports: s.listenerPorts().toSorted((a, b) => a - b).map((port) => ({
        port,
        service: SERVICE_NAMES.get(port) ?? "",
      })),
      exposed: (info.exposed ?? []).map((e) => ({ port: e.port, target: e.target, active: e.active })),
      gateway: info.gateway
        ? {
          subnet: info.gateway.subnet,
          mappings: info.gateway.mappings.map((m) => ({
            localIp: m.local_ip,
            address: m.pilot_addr,
            active: m.active,
          })),
        }
        : null,
      events: s.recentEvents(),
      generatedAt: now,
    };
  }
}
