/**
 * NAT traversal for the daemon (docs/protocol/wire.md §8.2–8.5, docs/protocol/transport.md §3.2): STUN-style discovery of the
 * public endpoint through the beacon (at start on the tunnel socket itself, then every keepalive,
 * re-registering when it changes), keepalives that hold the NAT mappings to the beacon and to
 * punched peers, hole punching (a PunchRequest makes the beacon send both sides a PunchCommand,
 * each answers with PILP frames), and the dial strategy: direct SYNs with punching, the relay
 * after the 3rd SYN timeout, and probes that move a relayed peer back to a direct path once one
 * works. The tunnel does the per-packet work; this module only decides and keeps timers.
 */
import type { BeaconMessage } from "../beacon/messages.ts";
import type { Logger } from "../log.ts";
import { formatHostPort, type HostPort, parseHostPort } from "../net/hostport.ts";
import { Address } from "../protocol/address.ts";
import { FLAG_ACK, PROTO_CONTROL, PROTOCOL_VERSION } from "../protocol/header.ts";
import type { Packet } from "../protocol/packet.ts";
import { PORT_CONTROL } from "../protocol/ports.ts";
import { byLabel, type MetricFamily } from "../http/prometheus.ts";
import { SYN_DIRECT_ATTEMPTS } from "../transport/stream.ts";
import { Endpoint } from "../tunnel/endpoint.ts";
import type { PeerPath } from "../tunnel/stats.ts";
import type { Tunnel } from "../tunnel/tunnel.ts";
import type { DaemonConfig } from "./config.ts";
import { isPublicCandidate } from "./nat_endpoint.ts";
import { BeaconProofs } from "./nat_proof.ts";

/** Discover messages sent at start before giving up (the reference sends one and waits 5 s). */
export const DISCOVER_ATTEMPTS = 3;
/** Wait for a DiscoverReply before the next attempt. */
export const DISCOVER_RETRY_MS = 1_000;
/**
 * Re-discovery and keepalive interval: below the 30 s a Linux NAT keeps an unanswered UDP mapping,
 * so the mapping to the beacon (and each punched path) never lapses.
 */
export const NAT_KEEPALIVE_MS = 25_000;
/** How often relayed peers are checked for a due probe. */
export const PROBE_TICK_MS = 2_000;
/** First wait before probing a relayed peer's direct path, doubled after each probe up to the max. */
export const PROBE_INITIAL_MS = 2_000;
export const PROBE_MAX_MS = 60_000;
/** Relayed peers probed per tick, and punched peers kept alive per keepalive (bounds the work). */
export const MAX_PROBES_PER_TICK = 64;
export const MAX_KEEPALIVE_PEERS = 1024;
/** A PILP hint from one node triggers at most one probe per this interval. */
export const PUNCH_HINT_INTERVAL_MS = 500;
/** Nodes remembered for hints and probe schedules; the oldest is forgotten beyond this. */
export const MAX_TRACKED_NODES = 4096;
/**
 * Ports of the direct-path probe: a Control packet with ACK between non-ping ports, which the
 * session layer (ours and the reference's) ignores, so it only proves the path.
 */
export const PROBE_PORT = PORT_CONTROL;

/** How long the set of peer endpoints a PunchCommand is checked against is reused. */
export const KNOWN_ENDPOINTS_TTL_MS = 1_000;

/** Where the endpoint we register came from. */
export type EndpointSource = "override" | "discovered" | "local";

/** What the NAT code needs besides the tunnel; supplied once the node is registered. */
export interface NatHost {
  /** Our node ID. */
  nodeId(): number;
  /** Registers again (the advertised endpoint changed). */
  reregister(): Promise<void>;
  /** Signs with the node's identity key, so the beacon binds our node ID to our address only for us. */
  sign?(bytes: Uint8Array): Uint8Array;
}

/** NAT settings, from the daemon configuration. */
export interface NatOptions {
  /** Beacon `host:port`; without one there is no discovery, punching or relay. */
  beacon?: string;
  /** Fixed public endpoint (`--endpoint`): registered as is, no discovery. */
  endpoint?: string;
  /** Send every dial through the relay from the first SYN, and never probe (tests, benchmarks). */
  forceRelay?: boolean;
  keepaliveMs?: number;
  discoverAttempts?: number;
  discoverRetryMs?: number;
  probeTickMs?: number;
  probeInitialMs?: number;
  probeMaxMs?: number;
}

/** Counters behind `pilot_nat_events_total`. */
export interface NatCounters {
  discoveries: number;
  endpointChanges: number;
  punchRequests: number;
  relayFallbacks: number;
  probes: number;
  hints: number;
  keepalives: number;
  /** PunchCommands refused: no echo token, endpoint of no peer of ours, no request of ours pending. */
  punchesRefused: number;
}

/** The NAT section of `pilot info`. */
export interface NatInfo {
  beacon: string;
  public_endpoint: string;
  endpoint_source: EndpointSource;
  force_relay: boolean;
  paths: Record<PeerPath, number>;
  /** Punch requests sent, dials moved to the relay, probes sent, relayed peers back on a direct path. */
  punch_requests: number;
  relay_fallbacks: number;
  probes: number;
  direct_recoveries: number;
}

interface ProbeSchedule {
  next: number;
  interval: number;
}

/**
 * The daemon's NAT traversal. Create it with the tunnel before registering, call
 * {@link NatTraversal.discover} to learn the endpoint to register, then {@link NatTraversal.start}
 * once the node has an ID; {@link NatTraversal.onSynTimeout} is the dial strategy's hook.
 */
export class NatTraversal {
  readonly counters: NatCounters = {
    discoveries: 0,
    endpointChanges: 0,
    punchRequests: 0,
    relayFallbacks: 0,
    probes: 0,
    hints: 0,
    keepalives: 0,
    punchesRefused: 0,
  };
  readonly #tunnel: Tunnel;
  readonly #options: NatOptions;
  readonly #log: Logger;
  #advertised?: string;
  #source: EndpointSource = "local";
  #host?: NatHost;
  #waiter?: (reply: { ip: string; port: number }) => void;
  #timers: ReturnType<typeof setInterval>[] = [];
  /** The probe tick; runs only while some peer is relayed, so an idle daemon is not woken for it. */
  #probeTimer?: ReturnType<typeof setInterval>;
  #reregistering = false;
  readonly #probes = new Map<number, ProbeSchedule>();
  readonly #hints = new Map<number, { from: Endpoint; at: number }>();
  readonly #proofs = new BeaconProofs();
  #known?: { at: number; endpoints: Set<string> };
  #closed = false;

  constructor(tunnel: Tunnel, options: NatOptions, log: Logger) {
    this.#tunnel = tunnel;
    this.#options = options;
    this.#log = log;
    if (options.endpoint) {
      this.#advertised = formatHostPort(parseHostPort(options.endpoint, "--endpoint"));
      this.#source = "override";
    }
    byTunnel.set(tunnel, this);
    tunnel.onBeaconMessage = (message) => this.#onBeaconMessage(message);
    tunnel.onPunchFrame = (sender, from) => this.#onPunchFrame(sender, from);
    tunnel.onRelayActivated = () => this.#startProbing();
    tunnel.mayPunch = (command) => this.#mayPunch(command);
  }

  /** True when a beacon is configured. */
  get hasBeacon(): boolean {
    return this.#options.beacon !== undefined;
  }

  /** The endpoint to register: the `--endpoint` override, the discovered public one, or undefined (use the local address). */
  advertised(): string | undefined {
    return this.#advertised;
  }

  /**
   * Asks the beacon, from the tunnel socket (so the NAT mapping is the one peers will use), which
   * endpoint it sees. A public answer becomes the advertised endpoint; no answer or a private one
   * leaves the local address. Skipped with an override or without a beacon. Never throws.
   */
  async discover(): Promise<string | undefined> {
    if (this.#source === "override" || !this.hasBeacon) return this.#advertised;
    const attempts = this.#options.discoverAttempts ?? DISCOVER_ATTEMPTS;
    const wait = this.#options.discoverRetryMs ?? DISCOVER_RETRY_MS;
    for (let i = 0; i < attempts && !this.#closed; i++) {
      const reply = new Promise<{ ip: string; port: number } | undefined>((resolve) => {
        const timer = setTimeout(() => {
          this.#waiter = undefined;
          resolve(undefined);
        }, wait);
        this.#waiter = (r) => {
          clearTimeout(timer);
          this.#waiter = undefined;
          resolve(r);
        };
      });
      this.#sendBeacon({ kind: "Discover", node: 0 });
      const r = await reply;
      if (!r) continue;
      this.counters.discoveries++;
      const endpoint = formatHostPort({ host: r.ip, port: r.port });
      if (!isPublicCandidate(r.ip)) {
        this.#log.info("beacon sees a non-public address; registering the local one", { observed: endpoint });
        return undefined;
      }
      this.#advertised = endpoint;
      this.#source = "discovered";
      this.#log.info("public endpoint discovered", { endpoint });
      return endpoint;
    }
    this.#log.warn("beacon did not answer discovery; registering the local address", {
      beacon: this.#options.beacon,
    });
    return undefined;
  }

  /** Starts keepalives and probing for a registered node, and refreshes the beacon's table now. */
  start(host: NatHost): void {
    if (this.#host || this.#closed) return;
    this.#host = host;
    if (!this.hasBeacon) return;
    this.#keepalive();
    this.#timers.push(setInterval(() => this.#keepalive(), this.#options.keepaliveMs ?? NAT_KEEPALIVE_MS));
    this.#startProbing(); // for peers relayed before registration; stops at its first tick without any
  }

  /** True while the probe tick runs (some peer was relayed at its last tick). */
  get probing(): boolean {
    return this.#probeTimer !== undefined;
  }

  /** Called before a dial's first SYN: with forced relay, the peer goes through the beacon at once. */
  beforeDial(node: number): void {
    if (this.#options.forceRelay && this.hasBeacon) this.#tunnel.setRelay(node, true);
  }

  /**
   * The dial strategy (docs/protocol/transport.md §3.2, draft variant): the 1st and 2nd SYN timeouts ask the
   * beacon to punch both sides, the 3rd moves the peer to the relay, so the last 3 SYNs go
   * through the beacon and the dial fails to the caller after that. Without a beacon all SYNs
   * stay direct.
   */
  onSynTimeout(node: number, expiries: number): void {
    if (!this.hasBeacon || this.#options.forceRelay || this.#closed) return;
    if (this.#tunnel.peer(node)?.path === "relay") return;
    if (expiries < SYN_DIRECT_ATTEMPTS) {
      this.requestPunch(node);
    } else if (expiries === SYN_DIRECT_ATTEMPTS) {
      this.counters.relayFallbacks++;
      this.#log.info("no direct path after 3 SYNs; relaying through the beacon", { peer: node });
      this.#tunnel.setRelay(node, true);
      this.#schedule(node, performance.now());
    }
  }

  /** Asks the beacon to make us and `node` punch towards each other. False without a beacon or node ID. */
  requestPunch(node: number): boolean {
    const self = this.#host?.nodeId();
    if (self === undefined || !this.hasBeacon) return false;
    this.counters.punchRequests++;
    return this.#sendBeacon({ kind: "PunchRequest", requester: self, target: node });
  }

  /** Peers by path, for `pilot info` and metrics. */
  paths(): Record<PeerPath, number> {
    const paths: Record<PeerPath, number> = { direct: 0, punched: 0, relay: 0 };
    for (const p of this.#tunnel.peers()) paths[p.path]++;
    return paths;
  }

  /** The NAT section of `pilot info`. */
  info(): NatInfo {
    return {
      beacon: this.#options.beacon ?? "",
      public_endpoint: this.#advertised ?? "",
      endpoint_source: this.#source,
      force_relay: this.#options.forceRelay ?? false,
      paths: this.paths(),
      punch_requests: this.counters.punchRequests,
      relay_fallbacks: this.counters.relayFallbacks,
      probes: this.counters.probes,
      direct_recoveries: this.#tunnel.stats().directRecoveries,
    };
  }

  /** Prometheus families: peers by path and NAT events. */
  metrics(): MetricFamily[] {
    const t = this.#tunnel.stats();
    const c = this.counters;
    return [
      byLabel(
        "pilot_peer_paths",
        "Tunnel peers, by path (direct, punched NAT hole, relay)",
        "gauge",
        "path",
        {
          ...this.paths(),
        },
      ),
      byLabel("pilot_nat_events_total", "NAT traversal events, by kind", "counter", "event", {
        discovery: c.discoveries,
        endpoint_change: c.endpointChanges,
        punch_request: c.punchRequests,
        punch_command: t.punchCommands,
        punch_received: t.punchesReceived,
        relay_fallback: c.relayFallbacks,
        direct_recovery: t.directRecoveries,
        probe: c.probes,
        hint: c.hints,
        keepalive: c.keepalives,
        punch_refused: c.punchesRefused,
      }),
    ];
  }

  /** Stops the timers. The tunnel is the daemon's to close. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
    this.#waiter = undefined;
  }

  // ---- internals ----

  // Beacon hardening (docs/compat.md "Hardening: beacon"): message construction and vouching.

  /** Sends a beacon message; Discover(our ID) and PunchRequest carry a proof signed with our identity. */
  #sendBeacon(message: BeaconMessage): boolean {
    const sign = this.#host?.sign?.bind(this.#host);
    return this.#tunnel.sendBeacon(this.#proofs.encode(message, sign, performance.now()));
  }

  /** Obeys a PunchCommand only toward an endpoint our beacon exchange or registry vouched for. */
  #mayPunch(command: Extract<BeaconMessage, { kind: "PunchCommand" }>): boolean {
    let key: string;
    try {
      key = Endpoint.of(command.ip, command.port).key;
    } catch {
      return false;
    }
    const known = () => this.#knownEndpoints();
    const vouch = this.#proofs.vouch(command, key, known, performance.now());
    if (vouch !== "unvouched") return true;
    this.counters.punchesRefused++;
    this.#log.debug("punch command refused: endpoint not vouched for", { to: key });
    return false;
  }

  /** Our peers' endpoints, rebuilt at most every {@link KNOWN_ENDPOINTS_TTL_MS} so a command flood costs no peer walk each. */
  #knownEndpoints(): ReadonlySet<string> {
    const now = performance.now();
    if (!this.#known || now - this.#known.at > KNOWN_ENDPOINTS_TTL_MS) {
      const endpoints = new Set<string>();
      for (const p of this.#tunnel.peers()) if (p.endpoint) endpoints.add(p.endpoint);
      this.#known = { at: now, endpoints };
    }
    return this.#known.endpoints;
  }

  #onBeaconMessage(message: BeaconMessage): void {
    if (message.kind !== "DiscoverReply") return;
    if (this.#waiter) return this.#waiter(message);
    this.counters.discoveries++;
    this.#onRediscovered(message.ip, message.port);
  }

  /** A periodic DiscoverReply: a changed public endpoint is registered again. */
  #onRediscovered(ip: string, port: number): void {
    if (this.#source === "override" || !this.#host || !isPublicCandidate(ip)) return;
    const endpoint = formatHostPort({ host: ip, port });
    if (endpoint === this.#advertised || this.#reregistering) return;
    this.#log.info("public endpoint changed; registering again", {
      from: this.#advertised ?? "",
      to: endpoint,
    });
    this.counters.endpointChanges++;
    this.#advertised = endpoint;
    this.#source = "discovered";
    this.#reregistering = true;
    this.#host.reregister().catch((err) => this.#log.warn("re-registration failed", { err })).finally(() => {
      this.#reregistering = false;
    });
  }

  /** Refreshes the beacon's entry and NAT mapping (Discover with our ID) and each punched path. */
  #keepalive(): void {
    const self = this.#host?.nodeId();
    if (self === undefined || this.#closed) return;
    this.#sendBeacon({ kind: "Discover", node: self });
    let sent = 0;
    for (const p of this.#tunnel.peers()) {
      if (sent >= MAX_KEEPALIVE_PEERS) break;
      if (p.path !== "punched" || !p.endpoint) continue;
      if (this.#tunnel.punch(p.endpoint)) sent++;
    }
    this.counters.keepalives += 1 + sent;
  }

  /** Starts the probe tick, unless it runs or cannot probe (no beacon, forced relay, not started). */
  #startProbing(): void {
    if (this.#probeTimer || this.#closed || !this.#host || !this.hasBeacon || this.#options.forceRelay) {
      return;
    }
    this.#probeTimer = setInterval(() => this.#probeTick(), this.#options.probeTickMs ?? PROBE_TICK_MS);
  }

  /** Probes relayed peers whose turn has come: punch both sides, then test the direct path. */
  #probeTick(): void {
    if (this.#closed || !this.#host) return;
    const now = performance.now();
    const relayed = new Set<number>();
    let probed = 0;
    let anyRelayed = false;
    for (const p of this.#tunnel.peers()) {
      if (p.path !== "relay") continue;
      anyRelayed = true; // one still keying is probed once its session is up
      if (!p.encrypted) continue;
      relayed.add(p.node_id);
      const s = this.#probes.get(p.node_id) ?? this.#schedule(p.node_id, now);
      if (now < s.next || probed >= MAX_PROBES_PER_TICK) continue;
      probed++;
      s.next = now + s.interval;
      s.interval = Math.min(s.interval * 2, this.#options.probeMaxMs ?? PROBE_MAX_MS);
      this.requestPunch(p.node_id);
      const candidates = new Set<string>();
      if (p.endpoint) candidates.add(p.endpoint);
      const hint = this.#hints.get(p.node_id);
      if (hint) candidates.add(hint.from.key);
      for (const to of candidates) this.#probe(p.node_id, to);
    }
    for (const node of this.#probes.keys()) if (!relayed.has(node)) this.#probes.delete(node);
    if (!anyRelayed) {
      clearInterval(this.#probeTimer); // until a peer is relayed again (onRelayActivated)
      this.#probeTimer = undefined;
    }
  }

  #schedule(node: number, now: number): ProbeSchedule {
    let s = this.#probes.get(node);
    if (!s) {
      const initial = this.#options.probeInitialMs ?? PROBE_INITIAL_MS;
      s = { next: now + initial, interval: initial };
      remember(this.#probes, node, s);
    }
    return s;
  }

  /**
   * A PILP naming its sender arrived directly: the sender punched towards us, so its NAT may now
   * pass our frames. Probe it there when it is relayed or still without a key (rate-limited);
   * only an authenticated answer moves the peer.
   */
  #onPunchFrame(sender: number, from: Endpoint): void {
    if (this.#options.forceRelay || this.#closed) return;
    const now = performance.now();
    const last = this.#hints.get(sender);
    remember(this.#hints, sender, { from, at: now });
    const peer = this.#tunnel.peer(sender);
    if (!peer || (peer.path !== "relay" && peer.encrypted)) return;
    if (last && last.from.equals(from) && now - last.at < PUNCH_HINT_INTERVAL_MS) return;
    this.counters.hints++;
    this.#probe(sender, from.key);
  }

  #probe(node: number, to: string): void {
    const self = this.#host?.nodeId();
    if (self === undefined) return;
    if (this.#tunnel.probe(node, to, probePacket(self, node))) this.counters.probes++;
  }
}

/** The direct-path probe: ignored by the receiving session layer, authenticated by the tunnel. */
export function probePacket(from: number, to: number): Packet {
  return {
    version: PROTOCOL_VERSION,
    flags: FLAG_ACK,
    protocol: PROTO_CONTROL,
    src: new Address(0, from),
    dst: new Address(0, to),
    srcPort: PROBE_PORT,
    dstPort: PROBE_PORT,
    seq: 0,
    ack: 0,
    window: 0,
    payload: new Uint8Array(0),
  };
}

/** Map insert that forgets the oldest entry beyond {@link MAX_TRACKED_NODES}. */
function remember<V>(map: Map<number, V>, node: number, value: V): void {
  map.delete(node);
  map.set(node, value);
  if (map.size > MAX_TRACKED_NODES) map.delete(map.keys().next().value!);
}

/** NAT options from the daemon configuration; the keepalive never runs slower than the heartbeat. */
export function natOptions(config: DaemonConfig): NatOptions {
  return {
    beacon: config.beacon,
    endpoint: config.endpoint,
    forceRelay: config.forceRelay,
    keepaliveMs: Math.min(config.heartbeatMs, NAT_KEEPALIVE_MS),
  };
}

/** The beacon address for `Tunnel.open`, or undefined when none is configured. */
export function beaconAddress(beacon: string | undefined): HostPort | undefined {
  return beacon === undefined ? undefined : parseHostPort(beacon, "--beacon");
}

const byTunnel = new WeakMap<Tunnel, NatTraversal>();

/** The endpoint the NAT code advertises for `tunnel` (override or discovered), if any. */
export function advertisedEndpoint(tunnel: Tunnel): string | undefined {
  return byTunnel.get(tunnel)?.advertised();
}
