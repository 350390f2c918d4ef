/**
 * The daemon: an agent's virtual NIC. It owns the node identity, the encrypted UDP
 * tunnel, the registry session (registration, heartbeats, re-registration), the
 * session layer (streams, datagrams, ping), the IPC socket and the HTTP endpoint, and
 * wires a packet's path: udp → tunnel → session manager → port → IPC client.
 */
import { resolve } from "../paths.ts";
import { Logger } from "../log.ts";
import { Address } from "../protocol/address.ts";
import type { Packet } from "../protocol/packet.ts";
import { signEd25519 } from "../crypto/ed25519.ts";
import { loadOrCreateIdentity, loadOrCreateIdentityFile, type NodeIdentity } from "../crypto/identity.ts";
import { type RegisterReply, RegistryClient } from "../registry/client.ts";
import { Tunnel } from "../tunnel/tunnel.ts";
import { SessionManager } from "../transport/manager.ts";
import { startTimerLoop, taskClock, TimerQueue } from "../transport/timers.ts";
import { IpcServer } from "./ipc/server.ts";
import { limitsFromEnv } from "./ipc/limits.ts";
import type { InfoReply } from "../ipc/replies.ts";
import { foldHealth, type HealthCheck, type HealthReport } from "../http/health.ts";
import { type HttpEndpoint, serveHttp } from "../http/server.ts";
import type { MetricFamily } from "../http/prometheus.ts";
import { formatHostPort } from "../net/hostport.ts";
import type { DaemonConfig } from "./config.ts";
import { PeerDirectory } from "./peers.ts";
import { TrustGate } from "./trust_gate.ts";
import type { TrustService } from "../services/trust/service.ts";
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
import { beaconAddress, natOptions, NatTraversal } from "./nat.ts";
import { type GatewayHost, startGatewayHost } from "./gateway_host.ts";
import { registerWithRetry, registrationFields, RegistrySession } from "./registry_session.ts";
import { bindError, DaemonStartError, startError } from "./start_error.ts";
import { infoReply, nodeCounts } from "./info.ts";
import { serviceContext } from "./service_context.ts";

// Re-exported: callers of the daemon catch its start-up errors from here.
export { DaemonStartError };

/** How long a failed start waits for the registry to confirm the deregistration. */
const DEREGISTER_ON_FAILURE_MS = 2_000;

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
  /** Registration, heartbeats, re-registration; owns the node id the registry last assigned. */
  readonly #session: RegistrySession;
  #ipc?: IpcServer;
  #http?: HttpEndpoint;
  #services?: BuiltinServices;
  /** Exposed ports, the gateway when configured, and their control socket. */
  #gateway?: GatewayHost;
  #unroutable = 0;
  readonly #timers: TimerQueue;
  readonly #stopTimers: () => void;
  #closing = false;

  private constructor(
    parts: {
      config: DaemonConfig;
      identity: NodeIdentity;
      log: Logger;
      tunnel: Tunnel;
      registry: RegistryClient;
      keys: PeerKeys;
      nat: NatTraversal;
      /** The clock the tunnel and the session layer share (one read per task). */
      clock: () => number;
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
    // The emitter is read late, through the arrow: it is built below, from the session's id.
    const events = {
      emit: (event: string, data: Record<string, unknown>) => this.webhooks.emit(event, data),
    };
    const session = new RegistrySession({ config, registry, tunnel, log, events }, registered);
    this.#session = session;
    this.webhooks = new WebhookEmitter({
      url: config.webhook,
      nodeId: () => session.nodeId,
      log: log.child("webhook"),
      tap: (event, data) => this.recentEvents.record(event, data),
    });
    this.webhooks.emit("node.registered", {
      address: session.address.toString(),
      endpoint: registrationFields(config, tunnel).listenAddr,
    });
    this.peers = new PeerDirectory(registry, tunnel, log.child("peers"), () => session.nodeId);
    this.#timers = new TimerQueue(parts.clock);
    this.#stopTimers = startTimerLoop(this.#timers);
    const gate = new TrustGate(
      registry,
      () => session.nodeId,
      () => session.isPublic,
      log.child("trust"),
      (node) => this.#services?.trust?.isTrusted(node) ?? false,
      (node) => this.#services?.trust?.isRevoked(node) ?? false,
    );
    this.gate = gate;
    this.manager = new SessionManager({
      localAddr: session.address,
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
      nodeId: () => session.nodeId,
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
    this.manager.batchAcks = true;
    tunnel.onBatchEnd = () => this.manager.endBatch();
  }

  /** Our node id, assigned by the registry at start. */
  get nodeId(): number {
    return this.#session.nodeId;
  }

  /** Our overlay address (network 0). */
  get address(): Address {
    return this.#session.address;
  }

  /** Our hostname as the registry last accepted it ("" when none). */
  get hostname(): string {
    return this.#session.hostname;
  }

  /** Whether the registry lists us as public. */
  get isPublic(): boolean {
    return this.#session.isPublic;
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
    return this.#session.heartbeatFailures;
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
    const clock = taskClock();
    let tunnel: Tunnel;
    try {
      tunnel = await Tunnel.open({
        clock,
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
      daemon = new Daemon({ config, identity, log, tunnel, registry, keys, nat, clock }, registered);
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
    await this.#session.deregister(DEREGISTER_ON_FAILURE_MS);
    await this.close();
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
    const context = serviceContext({
      nodeId: () => this.nodeId,
      identity: this.identity,
      stateDir: config.stateDir,
      log: this.log,
      manager: this.manager,
      registry: this.registry,
      dialer: this.dialer,
      peers: this.peers,
      keys: this.#keys,
      tunnel: this.tunnel,
      webhooks: this.webhooks,
      lifecycle: this.#session.lifecycle,
    });
    this.#services = await installBuiltinServices(context, config.disabledServices, {
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
      const source = {
        health: () => this.health(),
        info: () => this.info(),
        metrics: () => this.metrics(),
        page: this.#statusView(),
      };
      const hosts = { bound: config.http.host, names: config.httpHosts ?? [] };
      // The app (and hono under it) is built on the first request, so a daemon whose endpoint
      // is never read does not keep that code in memory (docs/benchmarks.md, "Daemon footprint").
      let app: Promise<(req: Request) => Response | Promise<Response>> | undefined;
      const handler = async (req: Request) => {
        app ??= import("../http/daemon_app.ts").then((m) => {
          const built = m.daemonHttpApp(source, hosts, config.httpToken);
          return (r: Request) => built.fetch(r);
        });
        return (await app)(req);
      };
      try {
        this.#http = await serveHttp(
          handler,
          { hostname: config.http.host, port: config.http.port },
          this.log,
        );
      } catch (err) {
        throw bindError("--http", formatHostPort(config.http), err);
      }
    }
    this.#session.startHeartbeats(config.heartbeatMs);
    this.nat.start({
      nodeId: () => this.nodeId,
      reregister: () => this.#session.reregister(),
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
      nodeId: () => this.nodeId,
      streams: this.streams,
      dialer: this.dialer,
      peers: this.peers,
      manager: this.manager,
      registry: this.registry,
      // Ours beyond the reference's keys, IPC only: where client commands find this node's state.
      info: () => ({ ...this.info(), state_dir: resolve(this.config.stateDir) }),
      health: () => this.health(),
      counts: () => nodeCounts(this),
      hostnameSet: (hostname) => this.#session.hostnameSet(hostname),
      visibilitySet: (isPublic) => this.#session.visibilitySet(isPublic),
      setWebhook: (url) => this.webhooks.setUrl(url),
      trust: () => this.trust,
      resolveName: this.#nameserverLookup(),
      register: () => this.#session.registerAgain(),
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
    const nodeId = this.nodeId;
    if (pkt.src.node !== nodeId) pkt = { ...pkt, src: new Address(pkt.src.network, nodeId) };
    const node = pkt.dst.node;
    if (node === nodeId) {
      // Loopback: a program dialing its own node. Never re-enter the session layer synchronously.
      // Each such packet is a batch of its own: ACKs it owes go out with it (batchAcks).
      queueMicrotask(() => {
        this.manager.onPacket(pkt);
        this.manager.endBatch();
      });
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

  /** The health checks behind /healthz, IPC Health and `pilot health`. */
  health(): HealthReport {
    const checks: Record<string, HealthCheck> = {
      tunnel: this.#closing ? { ok: false, reason: "shutting down" } : { ok: true },
      registry: this.#session.healthCheck(),
      ipc: this.#ipc ? { ok: true } : { ok: false, reason: "IPC socket not listening" },
    };
    return foldHealth(checks);
  }

  /** The IPC Info body (docs/protocol/ipc.md §6.1), also served as /status. */
  info(): InfoReply {
    return infoReply(this, this.#gateway?.status());
  }

  /** Prometheus families for /metrics. */
  metrics(): MetricFamily[] {
    return [...daemonMetrics(this), ...(this.#gateway?.metrics() ?? [])];
  }

  /** Stops everything: FIN on open streams, IPC clients dropped, sockets closed. Does not deregister. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#session.stop();
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
