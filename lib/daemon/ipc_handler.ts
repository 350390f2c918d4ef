/**
 * What each IPC command does in this daemon (docs/protocol/ipc.md §4): stream and datagram commands
 * go to the session layer through the stream bridge; node settings and network
 * commands are proxied to the registry, signed with the node's identity, and their
 * replies returned as the registry sent them; Info and Health report the daemon.
 */
import { PilotError } from "../errors.ts";
import { Address, BROADCAST_NODE } from "../protocol/address.ts";
import type { SessionManager } from "../transport/manager.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { HealthReport } from "../http/health.ts";
import type { TrustService } from "../services/trust/service.ts";
import type { IpcClient, IpcHandler } from "./ipc/server.ts";
import type { HandshakeOp, NetworkOp } from "../ipc/codec.ts";
import { handshakeCommand } from "./ipc_handshake.ts";
import { registryRequest } from "./ipc_registry.ts";
import type { WireMessage } from "../registry/wire.ts";
import type {
  DeregisterReply,
  HandshakeReply,
  HealthReply,
  InfoReply,
  NetworkReply,
  ResolveHostnameReply,
  SetHostnameReply,
  SetTagsReply,
  SetTaskExecReply,
  SetVisibilityReply,
  SetWebhookReply,
} from "../ipc/replies.ts";
import type { Dialer } from "./dialer.ts";
import type { PeerDirectory } from "./peers.ts";
import type { StreamBridge } from "./streams.ts";
import type { NodeCounts } from "./info.ts";
import { errorMessage, settleQuietly } from "../errors.ts";

/** What the IPC commands use of the daemon. */
export interface IpcNode {
  nodeId(): number;
  readonly streams: StreamBridge;
  readonly dialer: Pick<Dialer, "dial">;
  readonly peers: Pick<PeerDirectory, "ensure">;
  readonly manager: Pick<SessionManager, "sendTo">;
  readonly registry: RegistryClient;
  info(): InfoReply;
  health(): HealthReport;
  /** What IPC Health reports besides the checks: counts only, cheap at any number of connections. */
  counts(): NodeCounts;
  /** The registry accepted a new hostname / visibility for us. */
  hostnameSet(hostname: string): void;
  visibilitySet(isPublic: boolean): void;
  setWebhook(url: string): void;
  /** The trust service, unless disabled. */
  trust(): TrustService | undefined;
  /** Resolves a name the registry does not know through the configured nameserver, if any. */
  resolveName?(name: string): Promise<Address>;
  /** Registers the node again (its own endpoint and key); the registry's reply. */
  register?(): Promise<WireMessage>;
}

/** Prefixes a registry failure the way the reference does: `<op>: registry: <text>`. */
async function viaRegistry<T>(op: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    // An expected outcome (unknown hostname, registry down), not a daemon bug: no warning per call.
    throw new RegistryCallError(`${op}: registry: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** A registry request made for an IPC client failed; the message goes back to the client. */
export class RegistryCallError extends PilotError {}

/** The daemon's IPC command handler. */
export class DaemonIpcHandler implements IpcHandler {
  constructor(private readonly node: IpcNode) {}

  bind(client: IpcClient, port: number): number {
    return this.node.streams.bind(client, port);
  }

  async dial(client: IpcClient, addr: Address, port: number, signal: AbortSignal): Promise<number> {
    const { node } = this;
    const stream = await node.dialer.dial(addr.node, port, { signal });
    node.streams.adopt(client, stream);
    return stream.id;
  }

  /** Data may already be waiting: forward it now that DialOK is queued ahead of it. */
  dialAnnounced(_client: IpcClient, connId: number): void {
    this.node.streams.start(connId);
  }

  send(client: IpcClient, connId: number, data: Uint8Array): Promise<void> {
    return this.node.streams.send(client, connId, data);
  }

  close(client: IpcClient, connId: number): void {
    this.node.streams.close(client, connId);
  }

  async sendTo(_client: IpcClient, addr: Address, port: number, data: Uint8Array): Promise<void> {
    const { node } = this;
    if (addr.node === BROADCAST_NODE) {
      if (addr.network === 0) throw new Error("sendto: broadcast on backbone network is not permitted");
      const reply = await viaRegistry("sendto", () => node.registry.listNodes(addr.network));
      const nodes = Array.isArray(reply.nodes)
        ? reply.nodes as { node_id?: number; offline?: boolean }[]
        : [];
      if (!nodes.some((n) => n.node_id === node.nodeId())) {
        throw new Error(`sendto: not a member of network ${addr.network}`);
      }
      for (const n of nodes) {
        if (typeof n.node_id !== "number" || n.node_id === node.nodeId() || n.offline) continue;
        // Broadcast datagrams are best effort per member, like any datagram; one offline member must not stop the rest.
        await settleQuietly(this.#sendDatagram(new Address(0, n.node_id), port, data), "peer gone");
      }
      return;
    }
    await this.#sendDatagram(new Address(0, addr.node), port, data);
  }

  async #sendDatagram(dst: Address, port: number, data: Uint8Array): Promise<void> {
    try {
      await this.node.peers.ensure(dst.node);
    } catch (err) {
      throw new Error(`sendto: ${errorMessage(err)}`);
    }
    this.node.manager.sendTo(dst, port, data);
  }

  info(): InfoReply {
    return this.node.info();
  }

  health(): HealthReply {
    const counts = this.node.counts();
    const report = this.node.health();
    // The reference's keys, plus our folded status and reasons (extra keys are ignored by its drivers).
    return {
      status: report.status,
      uptime_seconds: counts.uptime_secs,
      connections: counts.connections,
      peers: counts.peers,
      bytes_sent: counts.bytes_sent,
      bytes_recv: counts.bytes_recv,
      reasons: report.reasons,
    } as HealthReply;
  }

  async resolveHostname(_client: IpcClient, hostname: string): Promise<ResolveHostnameReply> {
    let reply;
    try {
      reply = await viaRegistry("resolve_hostname", () => this.node.registry.resolveHostname(hostname));
    } catch (err) {
      if (!this.node.resolveName) throw err;
      return await this.#resolveThroughNameserver(hostname, err as Error);
    }
    return {
      type: "resolve_hostname_ok",
      node_id: Number(reply.node_id),
      address: new Address(0, Number(reply.node_id)).toString(),
      public: reply.public === true,
      hostname: String(reply.hostname ?? hostname),
    } as ResolveHostnameReply;
  }

  /** The registry's hostnames come first; a name it does not know is asked of the nameserver. */
  async #resolveThroughNameserver(hostname: string, registryError: Error): Promise<ResolveHostnameReply> {
    let addr: Address;
    try {
      addr = await this.node.resolveName!(hostname);
    } catch (err) {
      throw new Error(`${registryError.message}; nameserver: ${err instanceof Error ? err.message : err}`);
    }
    return {
      type: "resolve_hostname_ok",
      node_id: addr.node,
      address: addr.toString(),
      public: false,
      hostname,
    } as ResolveHostnameReply;
  }

  async setHostname(_client: IpcClient, hostname: string): Promise<SetHostnameReply> {
    const reply = await viaRegistry("set_hostname", () => this.node.registry.setHostname(hostname));
    this.node.hostnameSet(hostname);
    return reply as SetHostnameReply;
  }

  async setVisibility(_client: IpcClient, isPublic: boolean): Promise<SetVisibilityReply> {
    const reply = await viaRegistry("set_visibility", () => this.node.registry.setVisibility(isPublic));
    this.node.visibilitySet(isPublic);
    return reply as SetVisibilityReply;
  }

  async deregister(): Promise<DeregisterReply> {
    return await viaRegistry("deregister", () => this.node.registry.deregister()) as DeregisterReply;
  }

  async setTags(_client: IpcClient, tags: string[]): Promise<SetTagsReply> {
    return await viaRegistry("set_tags", () => this.node.registry.setTags(tags)) as SetTagsReply;
  }

  async setTaskExec(_client: IpcClient, enabled: boolean): Promise<SetTaskExecReply> {
    return await viaRegistry(
      "set_task_exec",
      () => this.node.registry.setTaskExec(enabled),
    ) as SetTaskExecReply;
  }

  setWebhook(_client: IpcClient, url: string): SetWebhookReply {
    this.node.setWebhook(url);
    return { webhook: url };
  }

  handshake(_client: IpcClient, op: HandshakeOp): Promise<HandshakeReply> {
    return handshakeCommand(this.node.trust(), op);
  }

  network(_client: IpcClient, op: NetworkOp): Promise<NetworkReply> {
    const r = this.node.registry;
    switch (op.sub) {
      case "list":
        return viaRegistry("network list", () => r.listNetworks());
      case "join":
        return viaRegistry("network join", () => r.joinNetwork(op.networkId, op.token || undefined));
      case "leave":
        return viaRegistry("network leave", () => r.leaveNetwork(op.networkId));
      case "members":
        return viaRegistry("network members", () => r.listNodes(op.networkId));
      case "invite":
        return viaRegistry("network invite", () => r.inviteToNetwork(op.networkId, op.targetNodeId));
      case "poll-invites":
        return viaRegistry("network poll-invites", () => r.pollInvites());
      case "respond-invite":
        return viaRegistry("network respond-invite", () => r.respondInvite(op.networkId, op.accept));
      case "registry":
        return viaRegistry(`network ${op.request.type}`, () => registryRequest(this.node, op.request));
    }
  }

  clientGone(client: IpcClient): void {
    this.node.streams.release(client);
  }
}
