/**
 * What a service running inside a node may use: the only door from `lib/services` to the node
 * that hosts it. The daemon builds one {@link ServiceContext} and hands it to each installer;
 * services never import the daemon, so a service can be tested with a context of its own and
 * a new one is added without touching the daemon's fields.
 *
 * An installer takes a context (and its own options) and returns a {@link ServiceHandle}: how to
 * stop it, plus whatever the node needs from it (the trust service for the privacy gate, the
 * task service for metrics).
 * @module
 */
import type { Logger } from "../log.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { SessionManager } from "../transport/manager.ts";
import type { PeerStream } from "./byte_stream.ts";

/** The session layer as a service uses it: listen on and accept from a port, see connections. */
export type ServiceSessions = Pick<SessionManager, "listen" | "unlisten" | "connections">;

/** Options of {@link ServiceContext.dial}. */
export interface ServiceDialOptions {
  /** Give up after this long. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The node's signing identity. */
export interface ServiceIdentity {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** Where webhook events go (the node's emitter; a no-op when no URL is set). */
export interface WebhookSink {
  emit(event: string, data: Record<string, unknown>): void;
}

/** What a service may know and do about peers besides dialing them. */
export interface ServicePeers {
  /** The Ed25519 key the registry holds for `node` (cached), or undefined. */
  publicKey(node: number): Promise<Uint8Array | undefined>;
  /** True while the node has a route to `node` (resolved, or learned from its traffic). */
  isRouted(node: number): boolean;
  /**
   * Cuts `node` off: its route is forgotten now (new traffic must resolve it again through the
   * registry) and its tunnel session goes after `delayMs`, unless a route came back meanwhile.
   */
  disconnect(node: number, delayMs: number): void;
}

/** Work a service wants run at points of the node's registry session; failures are logged. */
export interface ServiceLifecycle {
  /** After every successful registry heartbeat. */
  afterHeartbeat(hook: () => Promise<void>): void;
  /** After the node registered again (registry restart, endpoint change). */
  afterReregister(hook: () => Promise<void>): void;
}

/** Everything a service running inside a node may use. */
export interface ServiceContext {
  /** This node's id (read each time: it is fixed once registered, but read late). */
  nodeId(): number;
  readonly identity: ServiceIdentity;
  /** The node's state directory (identity, trust and task files live here). */
  readonly stateDir: string;
  readonly log: Logger;
  readonly sessions: ServiceSessions;
  /**
   * Opens a stream to `node`:`port` through the node's one dialer (resolution, NAT punching and
   * relay fallback, timeouts). Rejects with the dialer's error, whose `reason` says why.
   */
  dial(node: number, port: number, options?: ServiceDialOptions): Promise<PeerStream>;
  /** The node's registry session (signed as this node). */
  readonly registry: RegistryClient;
  readonly peers: ServicePeers;
  readonly webhooks: WebhookSink;
  readonly lifecycle: ServiceLifecycle;
}

/** A running service. */
export interface ServiceHandle {
  /** Stops serving; resolves when its state is saved. */
  stop(): void | Promise<void>;
}
