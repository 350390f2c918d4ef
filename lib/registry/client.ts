/**
 * The registry client used by the daemon and the CLI: one lock-step connection
 * (client_connection.ts), a timeout on every call, reconnection with back-off and
 * a single resend after a transport failure, primary following across standbys
 * (client_endpoints.ts), throttle back-off (client_backoff.ts), and a typed method
 * for every message the daemon needs (docs/protocol/registry.md §14). Calls that
 * act for a node are signed with its Ed25519 identity in one of the dialects of
 * client_signing.ts; in `auto` mode the dialect is learnt from the registry at
 * every registration (see {@link RegistryClient.detectDialect}).
 * @module
 */
import { toBase64, utf8 } from "../bytes.ts";
import { ed25519FromSeed, signEd25519Async } from "../crypto/ed25519.ts";
import { handshakeChallenge } from "./auth.ts";
import { RegistryCertificateError, RegistryConnectionError, RegistryReplyError } from "./errors.ts";
import { encodeFrame, MAX_REQUEST_BODY, type WireMessage } from "./wire.ts";
import { settleQuietly } from "../errors.ts";
import { RECONNECT_ATTEMPTS, reconnectWithBackoff, ThrottleGate, throttleWaitMs } from "./client_backoff.ts";
import { formatEndpoint, MAX_PRIMARY_REDIRECTS, RegistryEndpoints } from "./client_endpoints.ts";
import { RegistryConnection } from "./client_connection.ts";
import { detectSigningDialect, type SigningMode, signInMode } from "./client_signing.ts";

// Re-exported so importers keep one entry point for the client and its tunables.
export { RegistryCertificateError, RegistryConnectionError, RegistryReplyError };
export {
  DEFAULT_THROTTLE_WAIT_MS,
  RECONNECT_ATTEMPTS,
  RECONNECT_BASE_DELAY_MS,
  RECONNECT_MAX_DELAY_MS,
  THROTTLE_JITTER,
  throttleWaitMs,
} from "./client_backoff.ts";
export { MAX_PRIMARY_REDIRECTS } from "./client_endpoints.ts";
export { DEFAULT_DIAL_TIMEOUT_MS } from "./client_connection.ts";
export {
  REFERENCE_SIGNATURE_REQUIRED,
  REGISTRY_AUTH_MODES,
  type RegistryAuthMode,
  type SigningMode,
} from "./client_signing.ts";

/** Default time a call may take, including reconnection. */
export const DEFAULT_CALL_TIMEOUT_MS = 15_000;

/** A node identity: its id (0 before registering) and its Ed25519 seed. */
export interface ClientIdentity {
  nodeId: number;
  seed: Uint8Array;
}

/** Client settings. */
export interface RegistryClientOptions {
  /**
   * `host:port` (IPv6 as `[addr]:port`), or several comma-separated: a primary
   * and its standbys. The client moves to whichever is primary (a standby's
   * refusal names it; an unreachable one is skipped).
   */
  address: string;
  /** Use TLS; `pin` = hex SHA-256 of the registry's DER certificate. */
  tls?: { pin?: string; caCerts?: string[]; serverName?: string };
  identity?: ClientIdentity;
  /** Default `strict`; `auto` signs strictly until {@link RegistryClient.detectDialect} learns otherwise. */
  signing?: SigningMode | "auto";
  /** Attached to admin-capable requests. */
  adminToken?: string;
  timeoutMs?: number;
  dialTimeoutMs?: number;
  reconnectAttempts?: number;
}

/** `register` reply. */
export interface RegisterReply extends WireMessage {
  node_id: number;
  address: string;
  public_key: string;
  observed_addr: string;
  hostname?: string;
  hostname_error?: string;
}

/** Network policy fields. */
export interface NetworkPolicyInput {
  max_members?: number;
  allowed_ports?: number[];
  description?: string;
}

/** A registry connection. Calls are serialised: one request on the wire at a time. */
export class RegistryClient {
  /** Every configured (or learnt) registry and the one in use. */
  #endpoints: RegistryEndpoints;
  #connection: RegistryConnection;
  #queue: Promise<unknown> = Promise.resolve();
  #identity: ClientIdentity | null;
  #publicKey: string | null = null;
  /** Registry clock minus ours, learned from refusals that carry `server_time`. */
  #clockOffset = 0;
  /** The quiet period the registry's last throttle refusal asked for. */
  #throttle = new ThrottleGate();
  #signing: SigningMode;

  constructor(readonly options: RegistryClientOptions) {
    this.#endpoints = new RegistryEndpoints(options.address);
    this.#connection = new RegistryConnection({ tls: options.tls, dialTimeoutMs: options.dialTimeoutMs });
    this.#identity = options.identity ?? null;
    this.#signing = options.signing === undefined || options.signing === "auto" ? "strict" : options.signing;
    if (this.#identity) this.#publicKey = toBase64(ed25519FromSeed(this.#identity.seed).publicKey);
  }

  /** The signatures attached now: fixed by the options, or what detection found in `auto` mode. */
  get signing(): SigningMode {
    return this.#signing;
  }

  /** Whether the dialect is detected at registration rather than fixed. */
  get autoDetect(): boolean {
    return this.options.signing === "auto";
  }

  /** Host of the registry in use. */
  get hostname(): string {
    return this.#endpoints.current.hostname;
  }

  /** Port of the registry in use. */
  get port(): number {
    return this.#endpoints.current.port;
  }

  /** `host:port` of the registry in use (one of several when a primary has standbys). */
  get currentAddress(): string {
    return formatEndpoint(this.#endpoints.current);
  }

  /** The identity in use (node id 0 until registered). */
  get identity(): ClientIdentity | null {
    return this.#identity;
  }

  /** Base64 public key of the identity. */
  get publicKey(): string {
    if (!this.#publicKey) throw new RegistryConnectionError("no identity configured");
    return this.#publicKey;
  }

  /** Switches identity (e.g. after `register` assigned an id, or a key rotation). */
  setIdentity(identity: ClientIdentity): void {
    this.#identity = identity;
    this.#publicKey = toBase64(ed25519FromSeed(identity.seed).publicKey);
  }

  /** Opens the connection now rather than on the first call. */
  async connect(): Promise<void> {
    await this.#serial(() => this.#connection.ensure(this.#endpoints.current));
  }

  /** Closes the connection; later calls fail. */
  close(): void {
    this.#connection.close();
  }

  /**
   * Sends one raw message and returns the reply. A reply of type `error`
   * rejects with RegistryReplyError; transport trouble with RegistryConnectionError.
   */
  request(message: WireMessage): Promise<WireMessage> {
    return this.#serial(() => this.#call(() => Promise.resolve(message)));
  }

  /** Sends a message signed by the identity (as `signerField` names it) and returns the reply. */
  signed(message: WireMessage, options: { admin?: boolean } = {}): Promise<WireMessage> {
    return this.#signedAs(undefined, message, options);
  }

  /** Sends `message` signed in `mode`, or in the mode current when it goes out (undefined). */
  #signedAs(mode: SigningMode | undefined, message: WireMessage, options: { admin?: boolean } = {}) {
    return this.#serial(() => this.#call(() => this.#sign(this.#withAdmin(message, options.admin), mode)));
  }

  /** Sends an unsigned message, with the admin token when `admin` is set. */
  plain(message: WireMessage, options: { admin?: boolean } = {}): Promise<WireMessage> {
    return this.request(this.#withAdmin(message, options.admin));
  }

  #withAdmin(message: WireMessage, admin?: boolean): WireMessage {
    return admin && this.options.adminToken ? { ...message, admin_token: this.options.adminToken } : message;
  }

  async #sign(message: WireMessage, mode: SigningMode = this.#signing): Promise<WireMessage> {
    const id = this.#identity;
    if (!id) throw new RegistryConnectionError(`${message.type} needs a node identity to sign with`);
    return await signInMode(message, id.seed, mode, Date.now() + this.#clockOffset);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = settleQuietly(run, "reported elsewhere");
    return run;
  }

  /** One call under the deadline: build (sign) the message, send, await the reply; reconnect and resend once. */
  async #call(build: () => Promise<WireMessage>): Promise<WireMessage> {
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#connection.drop(); // lock-step is lost once a reply is late: start over on a new connection
        reject(
          new RegistryConnectionError(
            `registry ${this.options.address} did not answer within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.#attempt(build, Date.now() + timeoutMs), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #attempt(build: () => Promise<WireMessage>, deadline: number): Promise<WireMessage> {
    let reply: WireMessage;
    let resends = 0;
    let resigned = false;
    let redirects = 0;
    let waited = false;
    for (;;) {
      await this.#throttle.holdOff(deadline);
      const message = await build();
      const frame = encodeFrame(message, MAX_REQUEST_BODY);
      try {
        reply = await this.#connection.roundTrip(this.#endpoints.current, frame);
      } catch (err) {
        if (!(err instanceof RegistryConnectionError) || err instanceof RegistryCertificateError) throw err;
        // One resend per call, plus one per primary redirect (the named primary may just have died).
        if (resends > redirects || this.#connection.closed) throw err;
        resends++;
        await this.#reconnect(err);
        continue; // rebuilt, so a signed request gets a fresh nonce
      }
      if (reply.type !== "error" && typeof reply.error !== "string") return reply;
      if (redirects < MAX_PRIMARY_REDIRECTS && await this.#followPrimary(reply)) {
        redirects++;
        continue; // rebuilt and resent to the primary: the standby applied nothing
      }
      const serverTime = reply.server_time;
      const text = String(reply.error ?? "request failed");
      if (!resigned && typeof serverTime === "number" && /window|predates/.test(text)) {
        this.#clockOffset = serverTime - Date.now();
        resigned = true;
        continue;
      }
      const wait = throttleWaitMs(reply);
      if (wait !== null) {
        // Honour the registry's retry_after, plus jitter; every call on this client waits it out.
        const quietUntil = this.#throttle.refuse(reply, wait);
        if (!waited && quietUntil < deadline) {
          waited = true;
          continue; // one resend, after the wait, with a fresh signature
        }
      }
      throw new RegistryReplyError(text, typeof reply.code === "string" ? reply.code : undefined, reply);
    }
  }

  /** Moves to the registry a non-primary's refusal points at; false when `reply` is no such refusal. */
  async #followPrimary(reply: WireMessage): Promise<boolean> {
    const next = await this.#endpoints.primaryAfterRefusal(reply);
    if (next === null) return false;
    this.#useEndpoint(next);
    return true;
  }

  #useEndpoint(index: number): void {
    if (index === this.#endpoints.index) return;
    this.#connection.drop();
    this.#endpoints.index = index;
  }

  #reconnect(cause: Error): Promise<void> {
    return reconnectWithBackoff({
      attempts: this.options.reconnectAttempts ?? RECONNECT_ATTEMPTS,
      registries: this.#endpoints.count,
      connect: () => this.#connection.ensure(this.#endpoints.current),
      moveOn: () => this.#useEndpoint(this.#endpoints.nextIndex()),
      cause,
    });
  }

  #self(): number {
    const id = this.#identity?.nodeId ?? 0;
    if (!id) throw new RegistryConnectionError("not registered: no node id yet");
    return id;
  }

  // ---- node lifecycle ----

  /** Registers the identity's key; adopts the node id the registry assigns. */
  async register(
    opts: {
      listenAddr?: string;
      owner?: string;
      hostname?: string;
      lanAddrs?: string[];
      identityToken?: string;
    } = {},
  ): Promise<RegisterReply> {
    const msg: WireMessage = { type: "register", public_key: this.publicKey, protocol_version: 1 };
    if (opts.identityToken) msg.identity_token = opts.identityToken;
    if (opts.listenAddr !== undefined) msg.listen_addr = opts.listenAddr;
    if (opts.owner) msg.owner = opts.owner;
    if (opts.hostname) msg.hostname = opts.hostname;
    if (opts.lanAddrs?.length) msg.lan_addrs = opts.lanAddrs;
    // An owner string can only reclaim another node's id with the admin token.
    const admin = !!opts.owner;
    // Auto mode registers in our signed form: the reference ignores `auth`, ours requires it.
    const mode = this.autoDetect ? "strict" : this.#signing;
    const reply =
      (mode === "reference"
        ? await this.plain(msg, { admin })
        : await this.#signedAs(mode, msg, { admin })) as RegisterReply;
    this.#identity = { ...this.#identity!, nodeId: reply.node_id };
    if (this.autoDetect) await this.detectDialect();
    return reply;
  }

  /**
   * Learns which signatures the registry accepts (see {@link detectSigningDialect}) and signs
   * in that dialect from now on. Needs a registered identity; returns the mode now in use.
   * Transport failures propagate and leave the mode as it was.
   */
  async detectDialect(): Promise<SigningMode> {
    const heartbeat = (mode: SigningMode) =>
      this.#signedAs(mode, { type: "heartbeat", node_id: this.#self() });
    return this.#signing = await detectSigningDialect(heartbeat);
  }

  heartbeat(): Promise<WireMessage> {
    return this.signed({ type: "heartbeat", node_id: this.#self() });
  }

  deregister(): Promise<WireMessage> {
    return this.signed({ type: "deregister", node_id: this.#self() });
  }

  /** Rotates to the key of `newSeed` (signed with the current key), then signs with the new one. */
  async rotateKey(newSeed: Uint8Array): Promise<WireMessage> {
    const newKey = toBase64(ed25519FromSeed(newSeed).publicKey);
    const reply = await this.signed({ type: "rotate_key", node_id: this.#self(), new_public_key: newKey });
    this.setIdentity({ nodeId: this.#self(), seed: newSeed });
    return reply;
  }

  /** Sets (RFC 3339 text or Date) or clears (null) the key's expiry. */
  setKeyExpiry(expiresAt: Date | string | null): Promise<WireMessage> {
    const text = expiresAt === null ? "" : expiresAt instanceof Date ? expiresAt.toISOString() : expiresAt;
    return this.signed({ type: "set_key_expiry", node_id: this.#self(), expires_at: text });
  }

  getKeyInfo(nodeId: number = this.#self()): Promise<WireMessage> {
    return this.request({ type: "get_key_info", node_id: nodeId });
  }

  setVisibility(isPublic: boolean): Promise<WireMessage> {
    return this.signed({ type: "set_visibility", node_id: this.#self(), public: isPublic });
  }

  setHostname(hostname: string): Promise<WireMessage> {
    return this.signed({ type: "set_hostname", node_id: this.#self(), hostname });
  }

  setTags(tags: string[]): Promise<WireMessage> {
    return this.signed({ type: "set_tags", node_id: this.#self(), tags });
  }

  setTaskExec(enabled: boolean): Promise<WireMessage> {
    return this.signed({ type: "set_task_exec", node_id: this.#self(), enabled });
  }

  // ---- discovery ----

  lookup(nodeId: number): Promise<WireMessage> {
    return this.request({ type: "lookup", node_id: nodeId });
  }

  /** The endpoint of `nodeId`, if the privacy rule lets this node see it. */
  resolve(nodeId: number): Promise<WireMessage> {
    return this.signed({ type: "resolve", node_id: nodeId, requester_id: this.#self() });
  }

  /** Resolves a hostname; signed as this node when it has an id (so private names it may see resolve). */
  resolveHostname(hostname: string): Promise<WireMessage> {
    const id = this.#identity?.nodeId ?? 0;
    if (!id) return this.request({ type: "resolve_hostname", hostname });
    return this.signed({ type: "resolve_hostname", hostname, requester_id: id });
  }

  /** Members of a network (network 0: every node, admin only). Signed as a member when possible. */
  listNodes(networkId: number, opts: { limit?: number; afterNodeId?: number } = {}): Promise<WireMessage> {
    const msg: WireMessage = { type: "list_nodes", network_id: networkId };
    if (opts.limit) msg.limit = opts.limit;
    if (opts.afterNodeId) msg.after_node_id = opts.afterNodeId;
    const id = this.#identity?.nodeId ?? 0;
    if (networkId !== 0 && id) return this.signed({ ...msg, node_id: id }, { admin: true });
    return this.plain(msg, { admin: true });
  }

  listNetworks(): Promise<WireMessage> {
    return this.request({ type: "list_networks" });
  }

  punch(nodeA: number, nodeB: number): Promise<WireMessage> {
    return this.signed({ type: "punch", requester_id: this.#self(), node_a: nodeA, node_b: nodeB });
  }

  // ---- trust ----

  reportTrust(peerId: number): Promise<WireMessage> {
    return this.signed({ type: "report_trust", node_id: this.#self(), peer_id: peerId });
  }

  revokeTrust(peerId: number): Promise<WireMessage> {
    return this.signed({ type: "revoke_trust", node_id: this.#self(), peer_id: peerId });
  }

  checkTrust(nodeId: number, peerId: number): Promise<WireMessage> {
    return this.request({ type: "check_trust", node_id: nodeId, peer_id: peerId });
  }

  /** Relays a trust request to `toNodeId`, carrying the signature over `handshake:<from>:<to>`. */
  async requestHandshake(toNodeId: number, justification = ""): Promise<WireMessage> {
    const from = this.#self();
    const sig = await signEd25519Async(this.#identity!.seed, utf8(handshakeChallenge(from, toNodeId)));
    return this.signed({
      type: "request_handshake",
      from_node_id: from,
      to_node_id: toNodeId,
      justification,
      signature: toBase64(sig),
    });
  }

  pollHandshakes(): Promise<WireMessage> {
    return this.signed({ type: "poll_handshakes", node_id: this.#self() });
  }

  respondHandshake(peerId: number, accept: boolean): Promise<WireMessage> {
    return this.signed({ type: "respond_handshake", node_id: this.#self(), peer_id: peerId, accept });
  }

  // ---- networks ----

  /** Creates a network (admin token required); this node, if registered, becomes its owner. */
  createNetwork(opts: {
    name: string;
    joinRule?: "open" | "token" | "invite";
    token?: string;
    enterprise?: boolean;
    networkAdminToken?: string;
  }): Promise<WireMessage> {
    const msg: WireMessage = { type: "create_network", name: opts.name, join_rule: opts.joinRule ?? "open" };
    if (opts.token) msg.token = opts.token;
    if (opts.enterprise) msg.enterprise = true;
    if (opts.networkAdminToken) msg.network_admin_token = opts.networkAdminToken;
    const id = this.#identity?.nodeId ?? 0;
    if (id) msg.node_id = id;
    return this.plain(msg, { admin: true });
  }

  joinNetwork(networkId: number, token?: string): Promise<WireMessage> {
    const msg: WireMessage = { type: "join_network", node_id: this.#self(), network_id: networkId };
    if (token) msg.token = token;
    return this.signed(msg);
  }

  leaveNetwork(networkId: number): Promise<WireMessage> {
    return this.signed({ type: "leave_network", node_id: this.#self(), network_id: networkId });
  }

  #roleOp(message: WireMessage): Promise<WireMessage> {
    const id = this.#identity?.nodeId ?? 0;
    if (id) return this.signed({ ...message, node_id: id }, { admin: true });
    return this.plain(message, { admin: true });
  }

  deleteNetwork(networkId: number): Promise<WireMessage> {
    return this.#roleOp({ type: "delete_network", network_id: networkId });
  }

  renameNetwork(networkId: number, name: string): Promise<WireMessage> {
    return this.#roleOp({ type: "rename_network", network_id: networkId, name });
  }

  setNetworkEnterprise(networkId: number, enterprise: boolean): Promise<WireMessage> {
    return this.plain({ type: "set_network_enterprise", network_id: networkId, enterprise }, { admin: true });
  }

  kickMember(networkId: number, target: number): Promise<WireMessage> {
    return this.#roleOp({ type: "kick_member", network_id: networkId, target_node_id: target });
  }

  promoteMember(networkId: number, target: number): Promise<WireMessage> {
    return this.#roleOp({ type: "promote_member", network_id: networkId, target_node_id: target });
  }

  demoteMember(networkId: number, target: number): Promise<WireMessage> {
    return this.#roleOp({ type: "demote_member", network_id: networkId, target_node_id: target });
  }

  transferOwnership(networkId: number, newOwner: number): Promise<WireMessage> {
    return this.#roleOp({ type: "transfer_ownership", network_id: networkId, new_owner_id: newOwner });
  }

  getMemberRole(networkId: number, target: number): Promise<WireMessage> {
    return this.request({ type: "get_member_role", network_id: networkId, target_node_id: target });
  }

  setNetworkPolicy(networkId: number, policy: NetworkPolicyInput): Promise<WireMessage> {
    return this.#roleOp({ type: "set_network_policy", network_id: networkId, ...policy });
  }

  getNetworkPolicy(networkId: number): Promise<WireMessage> {
    return this.request({ type: "get_network_policy", network_id: networkId });
  }

  inviteToNetwork(networkId: number, target: number): Promise<WireMessage> {
    return this.signed(
      { type: "invite_to_network", network_id: networkId, inviter_id: this.#self(), target_node_id: target },
      { admin: true },
    );
  }

  pollInvites(): Promise<WireMessage> {
    return this.signed({ type: "poll_invites", node_id: this.#self() });
  }

  respondInvite(networkId: number, accept: boolean): Promise<WireMessage> {
    return this.signed({ type: "respond_invite", node_id: this.#self(), network_id: networkId, accept });
  }

  // ---- beacons, scores, audit ----

  beaconRegister(beaconId: number, addr: string): Promise<WireMessage> {
    return this.plain({ type: "beacon_register", beacon_id: beaconId, addr }, { admin: true });
  }

  beaconList(): Promise<WireMessage> {
    return this.request({ type: "beacon_list" });
  }

  /** Adjusts another node's score, reported (and signed) by this node. */
  updatePoloScore(nodeId: number, delta: number): Promise<WireMessage> {
    if (this.#signing === "reference") {
      return this.request({ type: "update_polo_score", node_id: nodeId, delta });
    }
    return this.signed({ type: "update_polo_score", node_id: nodeId, delta, reporter_id: this.#self() });
  }

  setPoloScore(nodeId: number, score: number): Promise<WireMessage> {
    return this.plain({ type: "set_polo_score", node_id: nodeId, polo_score: score }, { admin: true });
  }

  getPoloScore(nodeId: number): Promise<WireMessage> {
    return this.request({ type: "get_polo_score", node_id: nodeId });
  }

  getAuditLog(opts: { networkId?: number; limit?: number } = {}): Promise<WireMessage> {
    const msg: WireMessage = { type: "get_audit_log" };
    if (opts.networkId) msg.network_id = opts.networkId;
    if (opts.limit) msg.limit = opts.limit;
    return this.plain(msg, { admin: true });
  }
}
