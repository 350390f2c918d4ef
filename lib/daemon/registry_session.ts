/**
 * The daemon's session with the registry: the first registration (retried while the registry
 * comes up), heartbeats, re-registration after repeated failures, adopting the node id a
 * restarted registry assigns, and the deregistration that undoes a failed start. It owns what
 * the registry last accepted of this node (id, address, hostname, visibility), so every reader
 * sees the id the registry knows, even after a new one was adopted.
 */
import type { Logger } from "../log.ts";
import { errorMessage } from "../errors.ts";
import { Address } from "../protocol/address.ts";
import { type RegisterReply, type RegistryClient, RegistryReplyError } from "../registry/client.ts";
import type { Tunnel } from "../tunnel/tunnel.ts";
import type { HealthCheck } from "../http/health.ts";
import { formatHostPort } from "../net/hostport.ts";
import type { ServiceLifecycle, WebhookSink } from "../services/context.ts";
import { type DaemonConfig, HEARTBEAT_FAILURES_BEFORE_REREGISTER } from "./config.ts";
import { advertisedEndpoint } from "./nat.ts";
import { DaemonStartError } from "./start_error.ts";
import { setAlignedInterval } from "../aligned_timer.ts";

/** Delay between registration attempts while starting. */
const REGISTER_RETRY_MS = 500;

/** What a registry session works with; all owned by the daemon, which closes them. */
export interface RegistrySessionParts {
  config: DaemonConfig;
  registry: RegistryClient;
  /** Read for the advertised endpoint; told the new id when one is adopted. */
  tunnel: Tunnel;
  log: Logger;
  /** Where `node.reregistered` goes (read late: the daemon builds its emitter after the session). */
  events: WebhookSink;
}

/** A registered node's session with the registry. Create once registered; {@link stop} at close. */
export class RegistrySession {
  readonly #parts: RegistrySessionParts;
  /** Assigned at registration; replaced when a registry that lost its state assigns a new one. */
  #nodeId: number;
  #address: Address;
  #hostname: string;
  #isPublic: boolean;
  #failures = 0;
  #lastError = "";
  #beating = false;
  #stopped = false;
  #stopHeartbeats?: () => void;
  /** Run after every successful heartbeat (e.g. polling relayed handshakes). Errors are logged. */
  readonly #afterHeartbeat: (() => Promise<void>)[] = [];
  /** Run after the node registered again (e.g. re-reporting trust pairs). Errors are logged. */
  readonly #afterReregister: (() => Promise<void>)[] = [];

  constructor(parts: RegistrySessionParts, registered: RegisterReply) {
    this.#parts = parts;
    this.#nodeId = registered.node_id;
    this.#address = new Address(0, registered.node_id);
    this.#hostname = registered.hostname ?? "";
    this.#isPublic = parts.config.public;
  }

  /** Our node id as the registry last assigned it. */
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

  /** Consecutive failed heartbeats (0 while the session is healthy). */
  get heartbeatFailures(): number {
    return this.#failures;
  }

  /** Records a hostname the registry accepted (IPC SetHostname), re-sent on re-registration. */
  hostnameSet(hostname: string): void {
    this.#hostname = hostname;
  }

  /** Records a visibility the registry accepted (IPC SetVisibility), re-applied on re-registration. */
  visibilitySet(isPublic: boolean): void {
    this.#isPublic = isPublic;
  }

  /** Where services hook work onto the session. */
  readonly lifecycle: ServiceLifecycle = {
    afterHeartbeat: (hook) => this.#afterHeartbeat.push(hook),
    afterReregister: (hook) => this.#afterReregister.push(hook),
  };

  /** The `registry` check of the daemon's health report. */
  healthCheck(): HealthCheck {
    return this.#failures === 0
      ? { ok: true }
      : { ok: false, reason: `${this.#failures} heartbeat(s) failed: ${this.#lastError}` };
  }

  /**
   * Heartbeats every `intervalMs` until {@link stop}, on the process clock's multiples of it, so the
   * daemon's other chores of that period share the wake-up (lib/aligned_timer.ts).
   */
  startHeartbeats(intervalMs: number): void {
    this.#stopHeartbeats = setAlignedInterval(() => this.#beat(), intervalMs);
  }

  /** Stops heartbeats; a beat still running finishes, and none starts after. */
  stop(): void {
    this.#stopped = true;
    this.#stopHeartbeats?.();
  }

  /** Deregisters (best effort, at most `timeoutMs`): a failed start leaves no ghost node behind. */
  async deregister(timeoutMs: number): Promise<void> {
    const { registry, log } = this.#parts;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      registry.deregister().catch((err) => log.warn("deregister after failed start", { err })),
      new Promise((resolve) => timer = setTimeout(resolve, timeoutMs)),
    ]);
    clearTimeout(timer);
  }

  /** Registers again and logs a failure instead of throwing (heartbeat and NAT triggers). */
  async reregister(): Promise<void> {
    try {
      await this.registerAgain();
    } catch (err) {
      this.#parts.log.warn("re-registration failed", { err });
    }
  }

  /** Registers again with this node's endpoint and key, re-applying what registration resets. */
  async registerAgain(): Promise<RegisterReply> {
    const { config, registry, tunnel, log, events } = this.#parts;
    const reply = await registry.register(registrationFields(config, tunnel, this.#hostname));
    if (reply.node_id !== this.#nodeId) this.#adoptNodeId(reply.node_id);
    if (this.#isPublic) await registry.setVisibility(true);
    this.#failures = 0;
    this.#lastError = "";
    log.info("re-registered with the registry", { node: reply.node_id });
    events.emit("node.reregistered", { address: this.#address.toString() });
    await this.#runHooks(this.#afterReregister, "after-reregister");
    return reply;
  }

  async #beat(): Promise<void> {
    // A beat still running (the client waiting out a refusal's retry_after) is not joined by
    // another: the interval would otherwise pile calls up behind it.
    if (this.#stopped || this.#beating) return;
    this.#beating = true;
    try {
      await this.#beatOnce();
    } finally {
      this.#beating = false;
    }
  }

  async #beatOnce(): Promise<void> {
    const { registry, log } = this.#parts;
    try {
      await registry.heartbeat();
      this.#failures = 0;
      this.#lastError = "";
      await this.#runHooks(this.#afterHeartbeat, "after-heartbeat");
    } catch (err) {
      if (err instanceof RegistryReplyError && throttledAsNode(err)) {
        // The registry knows us and asked for quiet, which the client keeps: re-registering
        // would only add load.
        log.info("registry heartbeat refused for now (rate limited)", { err: err.message });
        return;
      }
      this.#failures++;
      this.#lastError = errorMessage(err);
      log.warn("registry heartbeat failed", { failures: this.#failures, err });
      if (this.#failures >= HEARTBEAT_FAILURES_BEFORE_REREGISTER) await this.reregister();
    }
  }

  /**
   * Takes the id a registry assigned on re-registration (a registry without persistence that
   * restarted gives every key a new one), as the reference daemon does: the tunnel sends under it,
   * and IPC info, /status, services and new connections use the new address. Connections open
   * under the old id cannot survive: peers know them by the old one.
   */
  #adoptNodeId(nodeId: number): void {
    this.#parts.log.warn("registry assigned a new node id; adopted it", { old: this.#nodeId, new: nodeId });
    this.#nodeId = nodeId;
    this.#address = new Address(0, nodeId);
    this.#parts.tunnel.setNodeId(nodeId);
  }

  async #runHooks(hooks: (() => Promise<void>)[], what: string): Promise<void> {
    for (const hook of hooks) {
      try {
        await hook();
      } catch (err) {
        this.#parts.log.warn(`${what} hook failed`, { err });
      }
    }
  }
}

/** The endpoint and hostname this node registers with. */
export function registrationFields(config: DaemonConfig, tunnel: Tunnel, hostname?: string) {
  const local = tunnel.localAddress();
  const host = local.host === "0.0.0.0" || local.host === "::" ? "127.0.0.1" : local.host;
  return {
    listenAddr: advertisedEndpoint(tunnel) ?? config.endpoint ?? formatHostPort({ host, port: local.port }),
    hostname: hostname || config.hostname,
    owner: undefined,
  };
}

/**
 * The first registration, retried every REGISTER_RETRY_MS until `config.registryWaitMs` ran out
 * (a daemon started beside its registry may come up first).
 */
export async function registerWithRetry(
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
