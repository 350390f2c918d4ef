/**
 * A test double of the daemon's logic behind the IPC server: one node whose
 * connections loop back between its own IPC clients, in memory. Tests and the
 * IPC benchmark drive it through the real socket, server and SDK; it is not a
 * daemon (no tunnel, no transport, no registry).
 * @module
 */
import { PilotError } from "../../../errors.ts";
import { Address, BACKBONE_NETWORK } from "../../../protocol/address.ts";
import { EPHEMERAL_PORT_MIN } from "../../../protocol/ports.ts";
import type { HandshakeOp, NetworkOp } from "../../../ipc/codec.ts";
import type {
  HandshakeReply,
  HealthReply,
  InfoReply,
  JsonObject,
  ResolveHostnameReply,
  SetHostnameReply,
  SetTagsReply,
} from "../../../ipc/replies.ts";
import type { IpcClient, IpcHandler, IpcServer } from "../server.ts";

/** A node whose dials hang until the client gives up or {@link LoopbackHandler.slowDialMs} passes. */
export const SLOW_NODE = 0xdead;
/** A node that cannot be resolved: datagrams to it fail with an unsolicited `sendto:` Error. */
export const UNREACHABLE_NODE = 0xbad;
/** The loopback node's own address. */
export const LOOPBACK_ADDRESS = new Address(BACKBONE_NETWORK, 42);

interface LoopConn {
  id: number;
  client: IpcClient;
  localPort: number;
  peer: LoopConn | null;
  bytesIn: number;
}

/** A record of a departed client, as clientGone saw it. */
export interface GoneRecord {
  id: number;
  ports: number[];
  conns: number[];
}

/**
 * Loopback handler: `bind` claims ports node-wide, `dial` to a bound port on any
 * address makes a connected pair (the binder gets Accept), `send` becomes Recv on
 * the peer, `close` sends CloseOK to both ends, `sendTo` is pushed to every
 * client. Knobs and records let tests observe what the server did.
 */
export class LoopbackHandler implements IpcHandler {
  /** Set by the test after listen; needed for datagram broadcast. */
  server: IpcServer | null = null;
  /** How long dials to {@link SLOW_NODE} take before succeeding (if not aborted first). */
  slowDialMs = 60_000;
  /** Payload pushed as Recv before DialOK on every dial (to exercise driver-side buffering). */
  preDialRecv: Uint8Array | null = null;
  /** When set, `send` waits for it (to hold requests back). */
  sendGate: Promise<void> | null = null;
  /** Bytes received by `send`, per connection and in total. */
  totalSent = 0;
  readonly ports = new Map<number, IpcClient>();
  readonly conns = new Map<number, LoopConn>();
  readonly gone: GoneRecord[] = [];
  readonly closedIds: number[] = [];
  #nextConn = 1;
  #goneWaiters: (() => void)[] = [];

  /** Resolves once `n` clients have gone. */
  async waitGone(n: number): Promise<void> {
    while (this.gone.length < n) await new Promise<void>((resolve) => this.#goneWaiters.push(resolve));
  }

  /** Forgets a connection without telling anyone (so later Sends on it fail). */
  forget(connId: number): void {
    this.conns.delete(connId);
  }

  bind(client: IpcClient, port: number): number {
    if (this.ports.has(port)) throw new PilotError(`port ${port} already bound`);
    this.ports.set(port, client);
    return port;
  }

  async dial(client: IpcClient, addr: Address, port: number, signal: AbortSignal): Promise<number> {
    if (addr.node === SLOW_NODE) {
      if (signal.aborted) throw new PilotError("dial timeout");
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, this.slowDialMs);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(new PilotError("dial timeout"));
        }, { once: true });
      });
    }
    const listener = this.ports.get(port);
    if (!listener || listener.closed) throw new PilotError("connection refused");
    const a: LoopConn = {
      id: this.#nextConn++,
      client,
      localPort: EPHEMERAL_PORT_MIN,
      peer: null,
      bytesIn: 0,
    };
    const b: LoopConn = { id: this.#nextConn++, client: listener, localPort: port, peer: a, bytesIn: 0 };
    a.peer = b;
    this.conns.set(a.id, a);
    this.conns.set(b.id, b);
    listener.pushAccept(port, b.id, LOOPBACK_ADDRESS, a.localPort);
    if (this.preDialRecv) await client.pushRecv(a.id, this.preDialRecv);
    return a.id;
  }

  async send(client: IpcClient, connId: number, data: Uint8Array): Promise<void> {
    if (this.sendGate) await this.sendGate;
    const conn = this.conns.get(connId);
    if (!conn || conn.client !== client) throw new PilotError(`connection ${connId} not found`);
    if (!conn.peer) throw new PilotError("send: connection not established");
    conn.bytesIn += data.length;
    this.totalSent += data.length;
    await conn.peer.client.pushRecv(conn.peer.id, data);
  }

  close(_client: IpcClient, connId: number): void {
    this.closedIds.push(connId);
    const conn = this.conns.get(connId);
    if (!conn) return;
    this.#end(conn);
  }

  sendTo(client: IpcClient, addr: Address, port: number, data: Uint8Array): void {
    if (addr.isBroadcast() && addr.network === BACKBONE_NETWORK) {
      throw new PilotError("sendto: broadcast on backbone network is not permitted");
    }
    if (addr.node === UNREACHABLE_NODE) throw new PilotError(`sendto: resolve node ${addr.node}: not found`);
    void client;
    this.server?.broadcastRecvFrom(LOOPBACK_ADDRESS, EPHEMERAL_PORT_MIN, port, data);
  }

  info(): InfoReply {
    return {
      node_id: LOOPBACK_ADDRESS.node,
      address: LOOPBACK_ADDRESS.toString(),
      hostname: "loop",
      uptime_secs: 1,
      connections: this.conns.size,
      ports: this.ports.size,
      peers: 0,
      encrypted_peers: 0,
      authenticated_peers: 0,
      encrypt: true,
      identity: false,
      public_key: "",
      email: "",
      bytes_sent: 0,
      bytes_recv: 0,
      pkts_sent: 0,
      pkts_recv: 0,
      tunnel_encryption_success: 0,
      tunnel_encryption_failure: 0,
      handshake_pending_count: 0,
      peer_list: [],
      conn_list: [],
      nat: {
        beacon: "",
        public_endpoint: "",
        endpoint_source: "local",
        force_relay: false,
        paths: { direct: 0, punched: 0, relay: 0 },
        punch_requests: 0,
        relay_fallbacks: 0,
        probes: 0,
        direct_recoveries: 0,
      },
    };
  }

  health(): HealthReply {
    return {
      status: "ok",
      uptime_seconds: 1,
      connections: this.conns.size,
      peers: 0,
      bytes_sent: 0,
      bytes_recv: 0,
    };
  }

  handshake(_client: IpcClient, op: HandshakeOp): HandshakeReply {
    switch (op.sub) {
      case "pending":
        return { pending: [{ node_id: 7, public_key: "", justification: "hi", received_at: 1 }] };
      case "trusted":
        return { trusted: [] };
      case "revoke":
        throw new PilotError(`handshake revoke: node ${op.nodeId} was not trusted`);
      default:
        return {
          status: op.sub === "request" ? "sent" : op.sub === "approve" ? "approved" : "rejected",
          node_id: op.nodeId,
        };
    }
  }

  resolveHostname(_client: IpcClient, hostname: string): ResolveHostnameReply {
    if (hostname !== "loop") {
      throw new PilotError(`resolve_hostname: registry: hostname "${hostname}" not found`);
    }
    return {
      type: "resolve_hostname_ok",
      node_id: 42,
      address: LOOPBACK_ADDRESS.toString(),
      public: true,
      hostname,
    };
  }

  setHostname(_client: IpcClient, hostname: string): SetHostnameReply {
    return { type: "set_hostname_ok", node_id: 42, hostname };
  }

  setTags(_client: IpcClient, tags: string[]): SetTagsReply {
    return { type: "set_tags_ok", node_id: 42, tags };
  }

  network(_client: IpcClient, op: NetworkOp): JsonObject {
    if (op.sub === "list") return { type: "list_networks_ok", networks: [] };
    throw new PilotError(`network ${op.sub}: registry: not implemented in the loopback handler`);
  }

  clientGone(client: IpcClient): void {
    this.gone.push({ id: client.id, ports: [...client.ports].sort(), conns: [...client.conns].sort() });
    for (const [port, owner] of this.ports) if (owner === client) this.ports.delete(port);
    for (const id of client.conns) {
      const conn = this.conns.get(id);
      if (conn) this.#end(conn);
    }
    for (const w of this.#goneWaiters.splice(0)) w();
  }

  /** Ends both sides of a connection: each side's client gets CloseOK. */
  #end(conn: LoopConn): void {
    this.conns.delete(conn.id);
    conn.client.pushCloseOK(conn.id);
    const peer = conn.peer;
    conn.peer = null;
    if (peer) {
      // The peer saw a FIN: it stays known (so its Sends fail as "not established") until it closes.
      peer.peer = null;
      peer.client.pushCloseOK(peer.id);
    }
  }
}
