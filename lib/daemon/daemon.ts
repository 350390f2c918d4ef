/**
 * The daemon: an agent's virtual NIC. It owns the node identity, the encrypted UDP
 * tunnel, the registry session (registration, heartbeats, re-registration), the
 * session layer (streams, datagrams, ping), the IPC socket and the HTTP endpoint, and
 * wires a packet's path: udp → tunnel → session manager → port → IPC client.
 */
import { resolve } from "node:path";
import { BindError } from "../net/bind_error.ts";
import { Logger } from "../log.ts";
import { errorMessage, PilotError } from "../errors.ts";
import { toBase64 } from "../bytes.ts";
import { Address } from "../protocol/address.ts";
import type { Packet } from "../protocol/packet.ts";
import { signEd25519 } from "../crypto/ed25519.ts";
import { loadOrCreateIdentity, loadOrCreateIdentityFile, type NodeIdentity } from "../crypto/identity.ts";
import { type RegisterReply, RegistryClient, RegistryReplyError } from "../registry/client.ts";
import { MAX_PEER_ROWS, Tunnel } from "../tunnel/tunnel.ts";
import { SessionManager } from "../transport/manager.ts";
import { startTimerLoop, TimerQueue } from "../transport/timers.ts";
import { IpcServer } from "./ipc/server.ts";
import { limitsFromEnv } from "./ipc/limits.ts";
import type { InfoReply } from "../ipc/replies.ts";
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
import { lookupAddress } from "../services/nameserver/resolver.ts";
import { StreamBridge } from "./streams.ts";
import { DaemonIpcHandler, type IpcNode } from "./ipc_handler.ts";
import { type BuiltinServices, installBuiltinServices } from "./services.ts";
import { daemonMetrics } from "./metrics.ts";
import { Dialer } from "./dialer.ts";
import { PeerKeys } from "./peer_keys.ts";
import { WebhookEmitter } from "./webhooks.ts";
import { attachWebhookEvents } from "./webhook_events.ts";
import { RecentEvents } from "./recent_events.ts";
import { DaemonStatusView } from "./status_view.ts";
import { autoJoinNetworks } from "./auto_join.ts";
import type { TaskService } from "../services/tasks/service.ts";
import { advertisedEndpoint, beaconAddress, natOptions, NatTraversal } from "./nat.ts";
import { type GatewayHost, startGatewayHost } from "./gateway_host.ts";

/** Start-up failed (registry unreachable, socket in use, bad identity...). */
export class DaemonStartError extends PilotError {}

/** How long a failed start waits for the registry to confirm the deregistration. */
const DEREGISTER_ON_FAILURE_MS = 2_000;

/**
 * Rows of `conn_list` in an Info reply: with every row about 600 bytes of JSON, 512 rows and
 * MAX_PEER_ROWS peers keep the reply well inside one IPC frame (1 MiB); `conns_omitted` says how
 * many were left out (`connections` still counts them all).
 */
const MAX_CONN_ROWS = 512;

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
  /** The newest daemon events (the webhooks' names and data), for the status page. */
  readonly recentEvents: RecentEvents = new RecentEvents();
  /** The privacy gate for SYNs and datagrams (local deny set, local trusted set, then the registry). */
  readonly gate: TrustGate;
  /** NAT traversal: endpoint discovery, keepalives, punching, the dial's relay fallback. */
  readonly nat: NatTraversal;
  /** The one way this node opens streams to peers (IPC Dial and the built-in services). */
  readonly dialer: Dialer;

  readonly #keys: PeerKeys;
  /** Assigned at registration; replaced when a registry that lost its state assigns a new one. */
  #nodeId: number;
  #address: Address;
  #hostname: string;
  #isPublic: boolean;
  #ipc?: IpcServer;
  #http?: HttpEndpoint;
  #services?: BuiltinServices;
  /** Exposed ports, the gateway when configured, and their control socket. */
  #gateway?: GatewayHost;
  #heartbeatFailures = 0;
  #beating = false;
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
      tap: (event, data) => this.recentEvents.record(event, data),
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
      maxConnectionsPerPort: config.maxConnsPerPort,
      maxConnectionsTotal: config.maxConnsTotal,
      synRateGlobal: config.synRateLimit,
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
    // Accepted datagrams go to the IPC client that bound the port, else to the clients that send datagrams.
    this.manager.onDatagram = (dg) => {
      this.#ipc?.deliverRecvFrom(dg.src, dg.srcPort, dg.dstPort, dg.data);
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

  /** The IPC server, once listening (its stats feed /metrics). */
  get ipc(): IpcServer | undefined {
    return this.#ipc;
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
    const identity = config.identityPath
      ? await loadOrCreateIdentityFile(config.identityPath).catch((err) => {
        throw new DaemonStartError(`--identity ${config.identityPath}: ${(err as Error).message}`, {
          cause: err,
        });
      })
      : await loadOrCreateIdentity(config.stateDir);
    let registry: RegistryClient;
    try {
      registry = new RegistryClient({
        address: config.registry,
        identity: { nodeId: 0, seed: identity.seed },
        tls: config.registryPin ? { pin: config.registryPin } : undefined,
        signing: config.registryAuth,
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
      throw bindError("--listen", formatHostPort(config.listen), err);
    }
    const nat = new NatTraversal(tunnel, natOptions(config), log.child("nat"));
    let daemon: Daemon | undefined;
    try {
      await nat.discover();
      const registered = await registerWithRetry(registry, config, tunnel, log);
      tunnel.setNodeId(registered.node_id);
      daemon = new Daemon({ config, identity, log, tunnel, registry, keys, nat }, registered);
      await daemon.#finishStart();
      return daemon;
    } catch (err) {
      if (daemon) {
        // Registered already: leave no ghost node in the registry and no socket file behind.
        await daemon.#abortStart();
      } else {
        nat.close();
        registry.close();
        await tunnel.close();
      }
      throw startError(err);
    }
  }

  /** Undoes a start that failed after registration: deregister (best effort), then close. */
  async #abortStart(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.registry.deregister().catch((err) => this.log.warn("deregister after failed start", { err })),
      new Promise((resolve) => timer = setTimeout(resolve, DEREGISTER_ON_FAILURE_MS)),
    ]);
    clearTimeout(timer);
    await this.close();
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
      nameserver: config.nameserverService,
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
    try {
      this.#ipc = await IpcServer.listen({
        path: config.socketPath,
        handler: new DaemonIpcHandler(this.#ipcNode()),
        logger: this.log.child("ipc"),
        ...limitsFromEnv((name) => Deno.env.get(name)),
      });
    } catch (err) {
      throw bindError("--socket", config.socketPath, err);
    }
    if (config.http) {
      const app = daemonHttpApp(
        {
          health: () => this.health(),
          info: () => this.info(),
          metrics: () => this.metrics(),
          page: this.#statusView(),
        },
        { bound: config.http.host, names: config.httpHosts ?? [] },
        config.httpToken,
      );
      try {
        this.#http = await serveHttp(
          app.fetch,
          { hostname: config.http.host, port: config.http.port },
          this.log,
        );
      } catch (err) {
        throw bindError("--http", formatHostPort(config.http), err);
      }
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
      registry_dialect: this.registry.signing,
    });
  }

  /** The status page's view of this node (kept apart from Info so Info stays the reference's shape). */
  #statusView(): () => ReturnType<DaemonStatusView["view"]> {
    const view = new DaemonStatusView({
      info: () => this.info(),
      tunnelAddress: () => formatHostPort(this.tunnel.localAddress()),
      health: () => this.health(),
      trust: () => this.trust,
      listenerPorts: () => this.manager.listenerPorts,
      peerRtt: (node) => this.manager.peerRtt(node),
      recentEvents: () => this.recentEvents.newest(),
    });
    return () => view.view();
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
      // Ours beyond the reference's keys, IPC only: where client commands find this node's state.
      info: () => ({ ...this.info(), state_dir: resolve(this.config.stateDir) }),
      health: () => this.health(),
      hostnameSet: (hostname) => this.#hostname = hostname,
      visibilitySet: (isPublic) => this.#isPublic = isPublic,
      setWebhook: (url) => this.webhooks.setUrl(url),
      trust: () => this.trust,
      resolveName: this.#nameserverLookup(),
      register: () => this.#registerAgain(),
    };
  }

  /** Hostname lookups through the configured nameserver (`--nameserver`), if any. */
  #nameserverLookup(): ((name: string) => Promise<Address>) | undefined {
    if (this.config.nameserver === undefined) return undefined;
    const server = Address.parse(this.config.nameserver);
    const dial = async (node: number, port: number, options: { timeoutMs: number; signal: AbortSignal }) =>
      streamFromTransport(await this.dialer.dial(node, port, options));
    return (name) => lookupAddress(dial, server, name);
  }

  /** Hands a packet from the session layer to the tunnel, resolving the peer first when needed. */
  #sendPacket(pkt: Packet): void {
    // The session layer keeps the address it was built with; after a new id was adopted, every
    // packet leaves under the new one (a peer drops a packet whose source differs from the tunnel's
    // sender, and a reply to the old id would go nowhere).
    if (pkt.src.node !== this.#nodeId) pkt = { ...pkt, src: new Address(pkt.src.network, this.#nodeId) };
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
    // A beat still running (the client waiting out a refusal's retry_after) is not joined by
    // another: the interval would otherwise pile calls up behind it.
    if (this.#closing || this.#beating) return;
    this.#beating = true;
    try {
      await this.#beatOnce();
    } finally {
      this.#beating = false;
    }
  }

  async #beatOnce(): Promise<void> {
    try {
      await this.registry.heartbeat();
      this.#heartbeatFailures = 0;
      this.#lastHeartbeatError = "";
      await this.#runHooks(this.#afterHeartbeat, "after-heartbeat");
    } catch (err) {
      if (err instanceof RegistryReplyError && throttledAsNode(err)) {
        // The registry knows us and asked for quiet, which the client keeps: re-registering
        // would only add load.
        this.log.info("registry heartbeat refused for now (rate limited)", { err: err.message });
        return;
      }
      this.#heartbeatFailures++;
      this.#lastHeartbeatError = errorMessage(err);
      this.log.warn("registry heartbeat failed", { failures: this.#heartbeatFailures, err });
      if (this.#heartbeatFailures >= HEARTBEAT_FAILURES_BEFORE_REREGISTER) await this.#reregister();
    }
  }

  async #reregister(): Promise<void> {
    try {
      await this.#registerAgain();
    } catch (err) {
      this.log.warn("re-registration failed", { err });
    }
  }

  /** Registers again with this node's endpoint and key, re-applying what registration resets. */
  async #registerAgain(): Promise<RegisterReply> {
    const reply = await this.registry.register(
      registrationFields(this.config, this.tunnel, this.#hostname),
    );
    if (reply.node_id !== this.nodeId) this.#adoptNodeId(reply.node_id);
    if (this.#isPublic) await this.registry.setVisibility(true);
    this.#heartbeatFailures = 0;
    this.#lastHeartbeatError = "";
    this.log.info("re-registered with the registry", { node: reply.node_id });
    this.webhooks.emit("node.reregistered", { address: this.address.toString() });
    await this.#runHooks(this.#afterReregister, "after-reregister");
    return reply;
  }

  /**
   * Takes the id a registry assigned on re-registration (a registry without persistence that
   * restarted gives every key a new one), as the reference daemon does: the tunnel sends under it,
   * and IPC info, /status, services and new connections use the new address. Connections open
   * under the old id cannot survive: peers know them by the old one.
   */
  #adoptNodeId(nodeId: number): void {
    this.log.warn("registry assigned a new node id; adopted it", { old: this.#nodeId, new: nodeId });
    this.#nodeId = nodeId;
    this.#address = new Address(0, nodeId);
    this.tunnel.setNodeId(nodeId);
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

  /** The IPC Info body (docs/protocol/ipc.md §6.1), also served as /status. */
  info(): InfoReply {
    const stats = this.tunnel.stats();
    const allConns = [...this.manager.connections()];
    const conns = allConns.slice(0, MAX_CONN_ROWS).map((s) => s.stats());
    const peerList = this.tunnel.peers(MAX_PEER_ROWS);
    return {
      node_id: this.nodeId,
      address: this.address.toString(),
      hostname: this.hostname,
      uptime_secs: Math.floor((Date.now() - this.startedAt) / 1000),
      connections: allConns.filter((c) => c.state === "SYN_SENT" || c.state === "ESTABLISHED").length,
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
      peer_list: peerList, // `peers` counts them all
      ...(stats.peers > peerList.length ? { peers_omitted: stats.peers - peerList.length } : {}),
      ...(allConns.length > conns.length ? { conns_omitted: allConns.length - conns.length } : {}),
      nat: this.nat.info(),
      registry: this.config.registry,
      registry_dialect: this.registry.signing,
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
    };
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

/** A bind failure as a start-up error naming the flag and address; the BindError stays the cause. */
function bindError(flag: string, where: string, err: unknown): DaemonStartError {
  const bind = new BindError(flag, where, err);
  return new DaemonStartError(bind.message, { cause: bind });
}

function startError(err: unknown): DaemonStartError {
  if (err instanceof DaemonStartError) return err;
  return new DaemonStartError(errorMessage(err), { cause: err });
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
          `--registry ${config.registry}: cannot register with the registry: ${errorMessage(err)}`,
          { cause: err },
        );
      }
      log.info("registry not reachable yet; retrying", { attempt, err });
      await new Promise((r) => setTimeout(r, REGISTER_RETRY_MS));
    }
  }
}

/**
 * True when a refusal was charged to this node's own budget or to the registry's global one, so
 * the registry still knows the node. A refusal from the per-address budget (our signature did not
 * count: e.g. a registry that lost its state) or without a reason (the reference's) still counts
 * toward re-registering.
 */
function throttledAsNode(err: RegistryReplyError): boolean {
  const reason = err.reply?.reason;
  return err.code === "throttled" &&
    (reason === "node_budget" || reason === "global_rate" || reason === "in_flight" || reason === "memory");
}
