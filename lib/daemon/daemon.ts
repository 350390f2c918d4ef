/**
 * The daemon: an agent's virtual NIC. It owns the node identity, the encrypted UDP
 * tunnel, the registry session (registration, heartbeats, re-registration), the
 * session layer (streams, datagrams, ping), the IPC socket and the HTTP endpoint, and
 * wires a packet's path: udp → tunnel → session manager → port → IPC client.
 */
import { Logger } from "../log.ts";
import { PilotError } from "../errors.ts";
import { toBase64 } from "../bytes.ts";
import { Address } from "../protocol/address.ts";
import type { Packet } from "../protocol/packet.ts";
import { signEd25519 } from "../crypto/ed25519.ts";
import { loadOrCreateIdentity, type NodeIdentity } from "../crypto/identity.ts";
import { type RegisterReply, RegistryClient } from "../registry/client.ts";
import { Tunnel } from "../tunnel/tunnel.ts";
import { SessionManager } from "../transport/manager.ts";
import { startTimerLoop, TimerQueue } from "../transport/timers.ts";
import { IpcServer } from "./ipc/server.ts";
import type { InfoReply } from "./ipc/replies.ts";
import { foldHealth, type HealthCheck, type HealthReport } from "../http/health.ts";
import { daemonHttpApp } from "../http/daemon_app.ts";
import { type HttpEndpoint, serveHttp } from "../http/server.ts";
import type { MetricFamily } from "../http/prometheus.ts";
import { formatHostPort } from "../net/hostport.ts";
import { type DaemonConfig, HEARTBEAT_FAILURES_BEFORE_REREGISTER } from "./config.ts";
import { PeerDirectory } from "./peers.ts";
import { TrustGate } from "./trust_gate.ts";
import type { TrustService } from "../services/trust/service.ts";
import type { ServiceContext } from "../services/context.ts";
import { streamFromTransport } from "../services/byte_stream.ts";
import { StreamBridge } from "./streams.ts";
import { DaemonIpcHandler, type IpcNode } from "./ipc_handler.ts";
import { type BuiltinServices, installBuiltinServices } from "./services.ts";
import { daemonMetrics } from "./metrics.ts";
import { Dialer } from "./dialer.ts";
import { PeerKeys } from "./peer_keys.ts";
import { WebhookEmitter } from "./webhooks.ts";
import { attachWebhookEvents } from "./webhook_events.ts";
import { autoJoinNetworks } from "./auto_join.ts";
import type { TaskService } from "../services/tasks/service.ts";
import { advertisedEndpoint, beaconAddress, natOptions, NatTraversal } from "./nat.ts";
import { type GatewayHost, startGatewayHost } from "../gateway/daemon_host.ts";

/** Start-up failed (registry unreachable, socket in use, bad identity...). */
export class DaemonStartError extends PilotError {}

/** Delay between registration attempts while starting. */
const REGISTER_RETRY_MS = 500;

/** A running daemon. Create with {@link Daemon.start}; stop with {@link Daemon.close}. */
export class Daemon {
  readonly config: DaemonConfig;
  readonly identity: NodeIdentity;
  readonly log: Logger;
  readonly tunnel: Tunnel;
  readonly registry: RegistryClient;
  readonly manager: SessionManager;
  readonly peers: PeerDirectory;
  readonly streams: StreamBridge;
  readonly startedAt = Date.now();
  /** Daemon events POSTed to the webhook URL (config.webhook, IPC SetWebhook). */
  readonly webhooks: WebhookEmitter;
  /** The privacy gate for SYNs and datagrams (local deny set, local trusted set, then the registry). */
  readonly gate: TrustGate;
  /** NAT traversal: endpoint discovery, keepalives, punching, the dial's relay fallback. */
  readonly nat: NatTraversal;
  /** The one way this node opens streams to peers (IPC Dial and the built-in services). */
  readonly dialer: Dialer;

  readonly #keys: PeerKeys;
  readonly #nodeId: number;
  readonly #address: Address;
  #hostname: string;
  #isPublic: boolean;
  #ipc?: IpcServer;
  #http?: HttpEndpoint;
  #services?: BuiltinServices;
  /** Exposed ports, the gateway when configured, and their control socket. */
  #gateway?: GatewayHost;
  #heartbeatFailures = 0;
  #lastHeartbeatError = "";
  #unroutable = 0;
  readonly #timers: TimerQueue;
  readonly #stopTimers: () => void;
  #heartbeat?: ReturnType<typeof setInterval>;
  #closing = false;
  /** Run after every successful heartbeat (e.g. polling relayed handshakes). Errors are logged. */
  readonly #afterHeartbeat: (() => Promise<void>)[] = [];
  /** Run after the daemon registered again (e.g. re-reporting trust pairs). Errors are logged. */
  readonly #afterReregister: (() => Promise<void>)[] = [];

  private constructor(
    parts: {
      config: DaemonConfig;
      identity: NodeIdentity;
      log: Logger;
      tunnel: Tunnel;
      registry: RegistryClient;
      keys: PeerKeys;
      nat: NatTraversal;
    },
    registered: RegisterReply,
  ) {
    const { config, log, tunnel, registry } = parts;
    this.config = config;
    this.identity = parts.identity;
    this.log = log;
    this.tunnel = tunnel;
    this.registry = registry;
    this.#keys = parts.keys;
    this.nat = parts.nat;
    this.#nodeId = registered.node_id;
    this.#address = new Address(0, registered.node_id);
    this.#hostname = registered.hostname ?? "";
    this.#isPublic = config.public;
    this.webhooks = new WebhookEmitter({
      url: config.webhook,
      nodeId: () => this.#nodeId,
      log: log.child("webhook"),
    });
    this.webhooks.emit("node.registered", {
      address: this.#address.toString(),
      endpoint: registrationFields(config, tunnel).listenAddr,
    });
    this.peers = new PeerDirectory(registry, tunnel, log.child("peers"), () => this.#nodeId);
    this.#timers = new TimerQueue(() => performance.now());
    this.#stopTimers = startTimerLoop(this.#timers);
    const gate = new TrustGate(
      registry,
      () => this.#nodeId,
      () => this.#isPublic,
      log.child("trust"),
      (node) => this.#services?.trust?.isTrusted(node) ?? false,
      (node) => this.#services?.trust?.isRevoked(node) ?? false,
    );
    this.gate = gate;
    this.manager = new SessionManager({
      localAddr: this.#address,
      send: (pkt) => this.#sendPacket(pkt),
      timers: this.#timers,
      trustGate: (remote) => gate.allows(remote.node),
      rstUntrusted: true,
      streamOptions: config.mss ? { mss: config.mss } : undefined,
      logger: log.child("session"),
    });
    this.dialer = new Dialer({
      manager: this.manager,
      peers: this.peers,
      nat: this.nat,
      nodeId: () => this.#nodeId,
    });
    attachWebhookEvents(tunnel, this.manager, this.webhooks);
    this.streams = new StreamBridge(this.manager);
    // Every accepted datagram goes to every IPC client; clients filter on the port (ipc.md §4).
    this.manager.onDatagram = (dg) => {
      this.#ipc?.broadcastRecvFrom(dg.src, dg.srcPort, dg.dstPort, dg.data);
      if (this.webhooks.url) {
        this.webhooks.emit("data.datagram", {
          src_addr: dg.src.toString(),
          src_port: dg.srcPort,
          dst_port: dg.dstPort,
          size: dg.data.length,
        });
      }
    };
    tunnel.onPacket = (packet, from) => {
      this.peers.learned(from);
      this.manager.onPacket(packet);
    };
  }

  /** Our node id, assigned by the registry at start. */
  get nodeId(): number {
    return this.#nodeId;
  }

  /** Our overlay address (network 0). */
  get address(): Address {
    return this.#address;
  }

  /** Our hostname as the registry last accepted it ("" when none). */
  get hostname(): string {
    return this.#hostname;
  }

  /** Whether the registry lists us as public. */
  get isPublic(): boolean {
    return this.#isPublic;
  }

  /** The HTTP endpoint (health, status, metrics), when enabled. */
  get http(): HttpEndpoint | undefined {
    return this.#http;
  }

  /** The trust handshake (port 444), unless disabled. */
  get trust(): TrustService | undefined {
    return this.#services?.trust;
  }

  /** The task service (port 1003), unless disabled. */
  get tasks(): TaskService | undefined {
    return this.#services?.tasks;
  }

  /** Consecutive failed heartbeats (0 while the registry session is healthy). */
  get heartbeatFailures(): number {
    return this.#heartbeatFailures;
  }

  /** Packets that could not be routed because the peer could not be resolved. */
  get unroutable(): number {
    return this.#unroutable;
  }

  /** Starts a daemon: identity, tunnel, registration, session layer, services, IPC and HTTP. */
  static async start(config: DaemonConfig, log = new Logger("daemon")): Promise<Daemon> {
    const identity = await loadOrCreateIdentity(config.stateDir);
    let registry: RegistryClient;
    try {
      registry = new RegistryClient({
        address: config.registry,
        identity: { nodeId: 0, seed: identity.seed },
        tls: config.registryPin ? { pin: config.registryPin } : undefined,
      });
    } catch (err) {
      throw startError(err);
    }
    // Keys need only the registry, so the tunnel can ask for them from its first frame on.
    const keys = new PeerKeys(registry, log.child("peers"));
    let tunnel: Tunnel;
    try {
      tunnel = await Tunnel.open({
        listen: config.listen,
        encrypt: config.encrypt,
        identity: { seed: identity.seed, publicKey: identity.publicKey },
        allowPilk: config.allowPilk,
        allowPlaintext: config.allowPlaintext,
        resolvePeerKey: (node) => keys.publicKey(node),
        faults: config.faults,
        beacon: beaconAddress(config.beacon),
        log: log.child("tunnel"),
      });
    } catch (err) {
      registry.close();
      throw err; // as it came: `pilot up` recognises a port in use and falls back
    }
    const nat = new NatTraversal(tunnel, natOptions(config), log.child("nat"));
    try {
      await nat.discover();
      const registered = await registerWithRetry(registry, config, tunnel, log);
      tunnel.setNodeId(registered.node_id);
      const daemon = new Daemon({ config, identity, log, tunnel, registry, keys, nat }, registered);
      await daemon.#finishStart();
      return daemon;
    } catch (err) {
      nat.close();
      registry.close();
      await tunnel.close();
      throw startError(err);
    }
  }

  /** What the built-in services may use of this node. */
  #serviceContext(): ServiceContext {
    const { peers, tunnel, dialer } = this;
    const keys = this.#keys;
    return {
      nodeId: () => this.#nodeId,
      identity: this.identity,
      stateDir: this.config.stateDir,
      log: this.log,
      sessions: this.manager,
      registry: this.registry,
      dial: async (node, port, options) => streamFromTransport(await dialer.dial(node, port, options)),
      peers: {
        publicKey: (node) => keys.publicKey(node),
        isRouted: (node) => peers.isRouted(node),
        disconnect: (node, delayMs) => {
          peers.forget(node);
          keys.forget(node);
          setTimeout(() => {
            if (!peers.isRouted(node)) tunnel.removePeer(node);
          }, delayMs);
        },
      },
      webhooks: this.webhooks,
      lifecycle: {
        afterHeartbeat: (hook) => this.#afterHeartbeat.push(hook),
        afterReregister: (hook) => this.#afterReregister.push(hook),
      },
    };
  }

  async #finishStart(): Promise<void> {
    const { config } = this;
    if (config.public) await this.registry.setVisibility(true);
    await autoJoinNetworks(this.registry, {
      networks: config.networks ?? [],
      adminToken: config.adminToken,
      log: this.log,
      joined: (id) => this.webhooks.emit("network.auto_joined", { network_id: id }),
    });
    this.#services = await installBuiltinServices(this.#serviceContext(), config.disabledServices, {
      onTrustChange: (node) => this.gate.invalidate(node),
    });
    this.#gateway = await startGatewayHost({
      socketPath: config.socketPath,
      stateDir: config.stateDir,
      gateway: config.gateway,
      dialer: this.dialer,
      sessions: this.manager,
      registry: this.registry,
      log: this.log,
      events: (event, data) => this.webhooks.emit(event, data),
    });
    this.#ipc = await IpcServer.listen({
      path: config.socketPath,
      handler: new DaemonIpcHandler(this.#ipcNode()),
      logger: this.log.child("ipc"),
    });
    if (config.http) {
      const app = daemonHttpApp({
        health: () => this.health(),
        info: () => this.info(),
        metrics: () => this.metrics(),
      });
      this.#http = await serveHttp(
        app.fetch,
        { hostname: config.http.host, port: config.http.port },
        this.log,
      );
    }
    this.#heartbeat = setInterval(() => this.#beat(), config.heartbeatMs);
    this.nat.start({
      nodeId: () => this.nodeId,
      reregister: () => this.#reregister(),
      sign: (bytes) => signEd25519(this.identity.seed, bytes),
    });
    this.log.info("daemon started", {
      node: this.nodeId,
      address: this.address.toString(),
      tunnel: formatHostPort(this.tunnel.localAddress()),
      socket: config.socketPath,
      http: this.#http?.url ?? "off",
    });
  }

  /** What the IPC commands may use of this node. */
  #ipcNode(): IpcNode {
    return {
      nodeId: () => this.#nodeId,
      streams: this.streams,
      dialer: this.dialer,
      peers: this.peers,
      manager: this.manager,
      registry: this.registry,
      info: () => this.info(),
      health: () => this.health(),
      hostnameSet: (hostname) => this.#hostname = hostname,
      visibilitySet: (isPublic) => this.#isPublic = isPublic,
      setWebhook: (url) => this.webhooks.setUrl(url),
      trust: () => this.trust,
    };
  }

  /** Hands a packet from the session layer to the tunnel, resolving the peer first when needed. */
  #sendPacket(pkt: Packet): void {
    const node = pkt.dst.node;
    if (node === this.nodeId) {
      // Loopback: a program dialing its own node. Never re-enter the session layer synchronously.
      queueMicrotask(() => this.manager.onPacket(pkt));
      return;
    }
    if (this.peers.isRouted(node)) return this.tunnel.send(node, pkt);
    this.peers.ensure(node).then(
      () => this.tunnel.send(node, pkt),
      (err) => {
        this.#unroutable++;
        this.log.debug("packet to unresolved node dropped", { node, err });
      },
    );
  }

  async #beat(): Promise<void> {
    if (this.#closing) return;
    try {
      await this.registry.heartbeat();
      this.#heartbeatFailures = 0;
      this.#lastHeartbeatError = "";
      await this.#runHooks(this.#afterHeartbeat, "after-heartbeat");
    } catch (err) {
      this.#heartbeatFailures++;
      this.#lastHeartbeatError = err instanceof Error ? err.message : String(err);
      this.log.warn("registry heartbeat failed", { failures: this.#heartbeatFailures, err });
      if (this.#heartbeatFailures >= HEARTBEAT_FAILURES_BEFORE_REREGISTER) await this.#reregister();
    }
  }

  async #reregister(): Promise<void> {
    try {
      const reply = await this.registry.register(
        registrationFields(this.config, this.tunnel, this.#hostname),
      );
      if (reply.node_id !== this.nodeId) {
        this.log.warn("registry assigned a new node id; restart to adopt it", {
          old: this.nodeId,
          new: reply.node_id,
        });
      }
      if (this.#isPublic) await this.registry.setVisibility(true);
      this.#heartbeatFailures = 0;
      this.#lastHeartbeatError = "";
      this.log.info("re-registered with the registry", { node: reply.node_id });
      this.webhooks.emit("node.reregistered", { address: this.address.toString() });
      await this.#runHooks(this.#afterReregister, "after-reregister");
    } catch (err) {
      this.log.warn("re-registration failed", { err });
    }
  }

  async #runHooks(hooks: (() => Promise<void>)[], what: string): Promise<void> {
    for (const hook of hooks) {
      try {
        await hook();
      } catch (err) {
        this.log.warn(`${what} hook failed`, { err });
      }
    }
  }

  /** The health checks behind /healthz, IPC Health and `pilot health`. */
  health(): HealthReport {
    const checks: Record<string, HealthCheck> = {
      tunnel: this.#closing ? { ok: false, reason: "shutting down" } : { ok: true },
      registry: this.#heartbeatFailures === 0 ? { ok: true } : {
        ok: false,
        reason: `${this.#heartbeatFailures} heartbeat(s) failed: ${this.#lastHeartbeatError}`,
      },
      ipc: this.#ipc ? { ok: true } : { ok: false, reason: "IPC socket not listening" },
    };
    return foldHealth(checks);
  }

  /** The IPC Info body (ipc.md §6.1), also served as /status. */
  info(): InfoReply {
    const stats = this.tunnel.stats();
    const conns = [...this.manager.connections()].map((s) => s.stats());
    return {
      node_id: this.nodeId,
      address: this.address.toString(),
      hostname: this.hostname,
      uptime_secs: Math.floor((Date.now() - this.startedAt) / 1000),
      connections: conns.filter((c) => c.state === "SYN_SENT" || c.state === "ESTABLISHED").length,
      ports: this.manager.listenerPorts.length,
      peers: stats.peers,
      encrypted_peers: stats.encryptedPeers,
      authenticated_peers: stats.authenticatedPeers,
      encrypt: this.config.encrypt,
      identity: true,
      public_key: toBase64(this.identity.publicKey),
      email: this.config.email ?? "",
      bytes_sent: stats.bytesSent,
      bytes_recv: stats.bytesReceived,
      pkts_sent: stats.datagramsSent,
      pkts_recv: stats.datagramsReceived,
      tunnel_encryption_success: stats.framesEncrypted,
      tunnel_encryption_failure: stats.decryptFailures,
      handshake_pending_count: this.trust?.pendingCount ?? 0,
      peer_list: this.tunnel.peers(),
      nat: this.nat.info(),
      conn_list: conns.map((c) => ({
        id: c.id,
        local_port: c.localPort,
        remote_addr: c.remoteAddr,
        remote_port: c.remotePort,
        state: c.state,
        cong_win: c.congWin,
        ssthresh: c.ssthresh,
        in_flight: c.inFlight,
        srtt_ms: c.srttMs,
        rttvar_ms: c.rttvarMs,
        unacked: c.unacked,
        ooo_buf: c.oooBuf,
        peer_recv_win: c.peerRecvWin,
        recv_win: c.recvWin,
        in_recovery: c.inRecovery,
        bytes_sent: c.bytesSent,
        bytes_recv: c.bytesRecv,
        segs_sent: c.segsSent,
        segs_recv: c.segsRecv,
        retransmits: c.retransmits,
        fast_retx: c.fastRetx,
        sack_recv: c.sackRecv,
        sack_sent: c.sackSent,
        dup_acks: c.dupAcks,
        // Ours beyond the reference's keys: loss recovery (RACK, tail loss probes, undo).
        rack_lost: c.rackLost,
        tlp_probes: c.tlpProbes,
        timeouts: c.timeouts,
        spurious_retx: c.spuriousRetx,
        undos: c.undos,
      })),
      ...this.#gateway?.status(),
    } as InfoReply;
  }

  /** Prometheus families for /metrics. */
  metrics(): MetricFamily[] {
    return [...daemonMetrics(this), ...(this.#gateway?.metrics() ?? [])];
  }

  /** Stops everything: FIN on open streams, IPC clients dropped, sockets closed. Does not deregister. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    await this.#services?.stop();
    await this.#gateway?.close();
    await this.#ipc?.close();
    this.manager.shutdown();
    await this.#http?.close();
    // Let the FINs leave before the socket goes.
    await new Promise((r) => setTimeout(r, 20));
    this.#stopTimers();
    this.nat.close();
    this.registry.close();
    await this.tunnel.close();
    await this.webhooks.close();
    this.log.info("daemon stopped", { node: this.nodeId });
  }
}

function startError(err: unknown): DaemonStartError {
  if (err instanceof DaemonStartError) return err;
  return new DaemonStartError(err instanceof Error ? err.message : String(err), { cause: err });
}

function registrationFields(config: DaemonConfig, tunnel: Tunnel, hostname?: string) {
  const local = tunnel.localAddress();
  const host = local.host === "0.0.0.0" || local.host === "::" ? "127.0.0.1" : local.host;
  return {
    listenAddr: advertisedEndpoint(tunnel) ?? config.endpoint ?? formatHostPort({ host, port: local.port }),
    hostname: hostname || config.hostname,
    owner: undefined,
  };
}

async function registerWithRetry(
  registry: RegistryClient,
  config: DaemonConfig,
  tunnel: Tunnel,
  log: Logger,
): Promise<RegisterReply> {
  const deadline = Date.now() + config.registryWaitMs;
  for (let attempt = 1;; attempt++) {
    try {
      const reply = await registry.register(registrationFields(config, tunnel));
      if (reply.hostname_error) {
        log.warn("hostname refused by the registry", { reason: reply.hostname_error });
      }
      return reply;
    } catch (err) {
      if (Date.now() + REGISTER_RETRY_MS > deadline) {
        throw new DaemonStartError(
          `cannot register with the registry at ${config.registry}: ${
            err instanceof Error ? err.message : err
          }`,
          { cause: err },
        );
      }
      log.info("registry not reachable yet; retrying", { attempt, err });
      await new Promise((r) => setTimeout(r, REGISTER_RETRY_MS));
    }
  }
}
