/**
 * A test double of the reference (Go, draft-01 era) registry that speaks only its
 * dialect: static challenge signatures (docs/protocol/registry.md §2.1), no `auth` form, unsigned
 * registration, its reply shapes with keys in Go's sorted order, its error texts
 * after its sanitising, its 3-minute reaper. Every reply it gives to the requests in
 * tests/fixtures/reference/registry/transcript.json is checked byte for byte against
 * the recorded one (tests/registry/reference_double_test.ts), so it answers as the
 * reference did, including its refusal of our signed form.
 *
 * It serves real TCP on loopback and runs on a fake clock that advances `timeScale`
 * times faster than the real one, so a test sees minutes of heartbeats and reaping
 * in seconds. It keeps a log of every request and reply for assertions.
 * @module
 */
import { fromBase64, utf8 } from "../../lib/bytes.ts";
import { verifyEd25519 } from "../../lib/crypto/ed25519.ts";
import { canonicalJson, staticChallenge } from "../../lib/registry/auth.ts";
import { decodeBody, FrameReader, MAX_REQUEST_BODY, type WireMessage } from "../../lib/registry/wire.ts";
import {} from "../../lib/errors.ts";
import { ignoreRejection } from "../../lib/errors.ts";

/** A node the reference reaps when its last heartbeat is older than this (fake time). */
export const STALE_NODE_MS = 3 * 60_000;
/** How often the reference's reaper runs (fake time). */
export const REAP_PERIOD_MS = 60_000;

/** Substrings that let an error text through the reference's sanitiser; anything else is "request failed". */
const PASSED_ERROR_TEXTS = [
  "rate limited",
  "enterprise feature",
  "expired",
  "already",
  "not a member",
  "cannot",
  "too many",
  "too long",
  "not found",
  "invalid",
  "required",
];

const HOSTNAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TAG_RE = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const RESERVED_HOSTNAMES = new Set(["localhost", "backbone", "broadcast"]);

interface Node {
  id: number;
  publicKey: string;
  realAddr: string;
  networks: number[];
  public: boolean;
  hostname: string;
  tags: string[];
  taskExec: boolean;
  polo: number;
  lastSeen: number;
  keyCreated: number;
}

interface Network {
  id: number;
  name: string;
  joinRule: string;
  token: string;
  members: number[];
  roles: Map<number, string>;
  created: number;
}

interface Relayed {
  from: number;
  justification?: string;
  accept?: boolean;
  at: number;
}

/** One request the double answered. */
export interface LoggedExchange {
  at: number;
  request: WireMessage;
  reply: WireMessage;
}

class Refusal extends Error {}

function addressText(network: number, node: number): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
  return `${network}:${hex(network)}.${hex(node >>> 16)}.${hex(node & 0xffff)}`;
}

/** The reference reads ids as 0 when missing, not a number, negative or out of range. */
function idOf(req: WireMessage, key: string, max = 0xffffffff): number {
  const v = req[key];
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max ? v : 0;
}

const str = (req: WireMessage, key: string): string => typeof req[key] === "string" ? req[key] as string : "";
const unixSeconds = (ms: number) => Math.floor(ms / 1000);
const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");

/** What the reference sends for an error: its text, or "request failed" when the sanitiser hides it. */
export function sanitisedError(text: string): string {
  return PASSED_ERROR_TEXTS.some((s) => text.includes(s)) ? text : "request failed";
}

/** The reference-dialect registry double. */
export class ReferenceRegistryDouble {
  readonly log: LoggedExchange[] = [];
  /** Node ids the reaper removed, in order. */
  readonly reaped: number[] = [];
  #nodes = new Map<number, Node>();
  #keyIndex = new Map<string, number>();
  #hostnames = new Map<string, number>();
  #networks = new Map<number, Network>();
  #trust = new Set<string>();
  #inbox = new Map<number, Relayed[]>();
  #responses = new Map<number, Relayed[]>();
  #nextNode = 1;
  #nextNet = 1;
  #listener: Deno.TcpListener | null = null;
  #conns = new Set<Deno.TcpConn>();
  #reaper: ReturnType<typeof setInterval> | undefined;
  #realStart = Date.now();
  #fakeStart: number;

  private constructor(readonly options: { adminToken: string; timeScale: number; startMs: number }) {
    this.#fakeStart = options.startMs;
    this.#networks.set(0, {
      id: 0,
      name: "backbone",
      joinRule: "open",
      token: "",
      members: [],
      roles: new Map(),
      created: this.now(),
    });
  }

  /**
   * Starts the double on `127.0.0.1:port` (default 0: any), or without a socket when
   * `listen` is false. `timeScale` fake milliseconds pass per real one (1 = real
   * time); `startMs` is the fake clock's start.
   */
  static start(
    options: { adminToken?: string; timeScale?: number; startMs?: number; listen?: boolean; port?: number } =
      {},
  ): ReferenceRegistryDouble {
    const double = new ReferenceRegistryDouble({
      adminToken: options.adminToken ?? "",
      timeScale: options.timeScale ?? 1,
      startMs: options.startMs ?? Date.now(),
    });
    if (options.listen !== false) double.#serve(options.port ?? 0);
    return double;
  }

  /** The fake clock, in Unix ms. */
  now(): number {
    return this.#fakeStart + (Date.now() - this.#realStart) * this.options.timeScale;
  }

  /** `127.0.0.1:port` of the listener. */
  get address(): string {
    if (!this.#listener) throw new Error("the double is not listening");
    const a = this.#listener.addr as Deno.NetAddr;
    return `${a.hostname}:${a.port}`;
  }

  /** Whether node `id` is registered (not reaped or deregistered). */
  has(id: number): boolean {
    return this.#nodes.has(id);
  }

  /** A node's public settings as the registry holds them. */
  node(id: number): { public: boolean; hostname: string; tags: string[]; networks: number[] } | undefined {
    const n = this.#nodes.get(id);
    return n && { public: n.public, hostname: n.hostname, tags: [...n.tags], networks: [...n.networks] };
  }

  /** Requests of one type the double answered (optionally only successes or refusals). */
  requests(type: string, outcome?: "ok" | "error"): LoggedExchange[] {
    return this.log.filter((e) =>
      e.request.type === type &&
      (outcome === undefined || (outcome === "ok") === (e.reply.type !== "error"))
    );
  }

  /** Creates a network as an operator with the admin token would (owner `ownerId`). */
  createNetwork(name: string, ownerId: number): number {
    const reply = this.handle(
      {
        type: "create_network",
        name,
        join_rule: "open",
        node_id: ownerId,
        admin_token: this.options.adminToken,
      },
      "127.0.0.1",
      0,
    );
    if (reply.type === "error") throw new Error(String(reply.error));
    return Number(reply.network_id);
  }

  /** Stops listening, closes every connection and the reaper. */
  close(): void {
    clearInterval(this.#reaper);
    try {
      this.#listener?.close();
    } catch { /* closed already */ }
    this.#listener = null;
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
  }

  /** Encodes a reply as the reference does: keys sorted (Go marshals maps that way), length-prefixed. */
  static frame(reply: WireMessage): Uint8Array {
    const body = utf8(canonicalJson(reply));
    const out = new Uint8Array(4 + body.length);
    new DataView(out.buffer).setUint32(0, body.length);
    out.set(body, 4);
    return out;
  }

  #serve(port: number): void {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port });
    this.#reaper = setInterval(() => this.reap(), REAP_PERIOD_MS / this.options.timeScale);
    ignoreRejection(
      (async () => {
        for await (const conn of this.#listener!) this.#session(conn);
      })(),
      "cleanup",
    );
  }

  async #session(conn: Deno.TcpConn): Promise<void> {
    this.#conns.add(conn);
    const peer = conn.remoteAddr as Deno.NetAddr;
    const reader = new FrameReader(MAX_REQUEST_BODY);
    const buf = new Uint8Array(65_536);
    try {
      for (;;) {
        let body: Uint8Array | null;
        while ((body = reader.next()) === null) {
          const n = await conn.read(buf);
          if (n === null) return;
          reader.push(buf.slice(0, n));
        }
        const reply = this.handle(decodeBody(body), peer.hostname, peer.port);
        await conn.write(ReferenceRegistryDouble.frame(reply));
      }
    } catch {
      // bad frame or closed socket: the reference drops the connection without a reply
    } finally {
      this.#conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  }

  /** Removes nodes whose last heartbeat is older than {@link STALE_NODE_MS}, as the reference's reaper. */
  reap(): void {
    const threshold = this.now() - STALE_NODE_MS;
    for (const [id, node] of this.#nodes) {
      if (node.lastSeen >= threshold) continue;
      this.forget(id);
      this.reaped.push(id);
    }
  }

  /**
   * Drops a node as the reaper does (its key keeps its id for re-registration; its
   * hostname is freed), as a node sees it after a registry restart that lost it.
   */
  forget(id: number): void {
    const node = this.#nodes.get(id);
    if (!node) return;
    const backbone = this.#networks.get(0)!;
    backbone.members = backbone.members.filter((m) => m !== id);
    if (node.hostname) this.#hostnames.delete(node.hostname);
    this.#nodes.delete(id);
  }

  /**
   * Loses every node, key, hostname, network, trust pair and relayed handshake, as the reference
   * registry does when it restarts without `-store`: ids are handed out from 1 again, so a key that
   * registers next may get another id than before. Open connections are closed (a restarted process
   * has none); the listener stays on its port.
   */
  restart(): void {
    this.#nodes.clear();
    this.#keyIndex.clear();
    this.#hostnames.clear();
    this.#trust.clear();
    this.#inbox.clear();
    this.#responses.clear();
    this.#networks = new Map([[0, { ...this.#networks.get(0)!, members: [], roles: new Map() }]]);
    this.#nextNode = 1;
    this.#nextNet = 1;
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
  }

  /** Answers one request (also usable without the socket). */
  handle(request: WireMessage, peerIp: string, peerPort: number): WireMessage {
    let reply: WireMessage;
    try {
      reply = this.#dispatch(request, peerIp, peerPort);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      reply = { type: "error", error: sanitisedError(err.message) };
    }
    this.log.push({ at: this.now(), request, reply });
    return reply;
  }

  #node(id: number): Node {
    const n = this.#nodes.get(id);
    if (!n) throw new Refusal(`node ${id}: node not found`);
    return n;
  }

  #verify(node: Node, req: WireMessage): void {
    const sig = str(req, "signature");
    if (!sig) throw new Refusal("signature required for authenticated node");
    const challenge = staticChallenge(req);
    let ok = false;
    try {
      ok = challenge !== null && verifyEd25519(fromBase64(node.publicKey), utf8(challenge), fromBase64(sig));
    } catch {
      ok = false;
    }
    if (!ok) throw new Refusal("signature verification failed");
  }

  /** A signature check that the global admin token may stand in for. */
  #verifyOrAdmin(node: Node, req: WireMessage): void {
    try {
      this.#verify(node, req);
    } catch (err) {
      if (!(this.options.adminToken && str(req, "admin_token") === this.options.adminToken)) throw err;
    }
  }

  #dispatch(req: WireMessage, peerIp: string, peerPort: number): WireMessage {
    switch (req.type) {
      case "register":
        return this.#register(req, peerIp, peerPort);
      case "heartbeat": {
        const node = this.#node(idOf(req, "node_id"));
        this.#verify(node, req);
        node.lastSeen = this.now();
        return { type: "heartbeat_ok", time: unixSeconds(this.now()) };
      }
      case "deregister": {
        const id = idOf(req, "node_id");
        const node = this.#nodes.get(id);
        if (!node) return { type: "deregister_ok" };
        this.#verifyOrAdmin(node, req);
        for (const net of this.#networks.values()) {
          net.members = net.members.filter((m) => m !== id);
          net.roles.delete(id);
        }
        if (node.hostname) this.#hostnames.delete(node.hostname);
        this.#nodes.delete(id);
        return { type: "deregister_ok" };
      }
      case "set_visibility": {
        const node = this.#node(idOf(req, "node_id"));
        this.#verifyOrAdmin(node, req);
        node.public = req.public === true;
        return {
          type: "set_visibility_ok",
          node_id: node.id,
          visibility: node.public ? "public" : "private",
        };
      }
      case "set_hostname":
        return this.#setHostname(req);
      case "set_tags":
        return this.#setTags(req);
      case "set_task_exec": {
        const node = this.#node(idOf(req, "node_id"));
        this.#verifyOrAdmin(node, req);
        node.taskExec = req.enabled === true;
        return { type: "set_task_exec_ok", node_id: node.id, task_exec: node.taskExec };
      }
      case "lookup":
        return this.#lookup(req);
      case "resolve":
        return this.#resolve(req);
      case "resolve_hostname":
        return this.#resolveHostname(req);
      case "check_trust":
        return {
          type: "check_trust_ok",
          trusted: this.#trust.has(pairKey(idOf(req, "node_id"), idOf(req, "peer_id"))),
        };
      case "report_trust":
      case "revoke_trust": {
        const node = this.#node(idOf(req, "node_id"));
        const peer = idOf(req, "peer_id");
        this.#verify(node, req);
        if (req.type === "report_trust") {
          this.#node(peer);
          this.#trust.add(pairKey(node.id, peer));
        } else this.#trust.delete(pairKey(node.id, peer));
        return { type: `${req.type}_ok` };
      }
      case "request_handshake":
        return this.#requestHandshake(req);
      case "poll_handshakes": {
        const node = this.#node(idOf(req, "node_id"));
        this.#verify(node, req);
        const requests = (this.#inbox.get(node.id) ?? []).map((r) => ({
          from_node_id: r.from,
          justification: r.justification ?? "",
          timestamp: unixSeconds(r.at),
        }));
        const responses = (this.#responses.get(node.id) ?? []).map((r) => ({
          accept: r.accept === true,
          from_node_id: r.from,
          timestamp: unixSeconds(r.at),
        }));
        this.#inbox.delete(node.id);
        this.#responses.delete(node.id);
        return { type: "poll_handshakes_ok", requests, responses };
      }
      case "respond_handshake": {
        const node = this.#node(idOf(req, "node_id"));
        const peer = idOf(req, "peer_id");
        this.#node(peer);
        if (!str(req, "signature")) throw new Refusal("handshake response requires signature");
        try {
          this.#verify(node, req);
        } catch {
          throw new Refusal("handshake response signature verification failed");
        }
        const accept = req.accept === true;
        if (accept) this.#trust.add(pairKey(node.id, peer));
        const queue = this.#responses.get(peer) ?? [];
        queue.push({ from: node.id, accept, at: this.now() });
        this.#responses.set(peer, queue);
        return { type: "respond_handshake_ok", accept, peer_id: peer };
      }
      case "list_networks":
        return {
          type: "list_networks_ok",
          networks: [...this.#networks.values()].sort((a, b) => a.id - b.id).map((n) => ({
            created: unixSeconds(n.created),
            enterprise: false,
            id: n.id,
            join_rule: n.joinRule,
            members: n.members.length,
            name: n.name,
          })),
        };
      case "create_network":
        return this.#createNetwork(req);
      case "join_network":
      case "leave_network":
        return this.#membership(req);
      case "list_nodes":
        return this.#listNodes(req);
      case "get_polo_score":
      case "update_polo_score": {
        const node = this.#node(idOf(req, "node_id"));
        if (req.type === "update_polo_score") node.polo += typeof req.delta === "number" ? req.delta : 0;
        return {
          type: `${req.type}_ok`,
          address: addressText(0, node.id),
          node_id: node.id,
          polo_score: node.polo,
        };
      }
      default:
        throw new Refusal(`unknown message type: ${String(req.type)}`);
    }
  }

  #register(req: WireMessage, peerIp: string, peerPort: number): WireMessage {
    const key = str(req, "public_key");
    if (!key) throw new Refusal("registration requires public_key");
    let raw: Uint8Array;
    try {
      raw = fromBase64(key);
    } catch {
      throw new Refusal("invalid public key: bad base64");
    }
    if (raw.length !== 32) throw new Refusal(`invalid public key: want 32 bytes, got ${raw.length}`);
    const m = /:(\d{1,5})$/.exec(str(req, "listen_addr"));
    const realAddr = `${peerIp}:${m ? Number(m[1]) : peerPort}`;
    const now = this.now();
    let id = this.#keyIndex.get(key);
    let node = id !== undefined ? this.#nodes.get(id) : undefined;
    if (node) {
      node.realAddr = realAddr;
      node.lastSeen = now;
    } else {
      if (id === undefined) {
        id = this.#nextNode++;
        this.#keyIndex.set(key, id);
      }
      // A reclaimed id keeps its non-backbone memberships (the reaper leaves their member lists).
      const networks = [
        0,
        ...[...this.#networks.values()].filter((n) => n.id !== 0 && n.members.includes(id!))
          .map((n) => n.id),
      ];
      node = {
        id,
        publicKey: key,
        realAddr,
        networks,
        public: false,
        hostname: "",
        tags: [],
        taskExec: false,
        polo: 0,
        lastSeen: now,
        keyCreated: now,
      };
      this.#nodes.set(id, node);
      const backbone = this.#networks.get(0)!;
      if (!backbone.members.includes(id)) backbone.members.push(id);
    }
    const reply: WireMessage = {
      type: "register_ok",
      address: addressText(0, node.id),
      network_id: 0,
      node_id: node.id,
      observed_addr: realAddr,
      protocol_version: 1,
      public_key: key,
    };
    const hostname = str(req, "hostname");
    if (hostname) {
      const problem = hostnameProblem(hostname);
      if (problem) reply.hostname_error = `invalid hostname: ${problem}`;
      else if ((this.#hostnames.get(hostname) ?? node.id) === node.id) {
        if (node.hostname) this.#hostnames.delete(node.hostname);
        node.hostname = hostname;
        this.#hostnames.set(hostname, node.id);
        reply.hostname = hostname;
      }
    }
    return reply;
  }

  #setHostname(req: WireMessage): WireMessage {
    const hostname = str(req, "hostname");
    const problem = hostname ? hostnameProblem(hostname) : "";
    if (problem) throw new Refusal(`invalid hostname: ${problem}`);
    const node = this.#node(idOf(req, "node_id"));
    this.#verifyOrAdmin(node, req);
    const holder = this.#hostnames.get(hostname);
    if (hostname && holder !== undefined && holder !== node.id) {
      throw new Refusal(`hostname "${hostname}" already in use by node ${holder}`);
    }
    if (node.hostname) this.#hostnames.delete(node.hostname);
    node.hostname = hostname;
    if (hostname) this.#hostnames.set(hostname, node.id);
    return { type: "set_hostname_ok", hostname, node_id: node.id };
  }

  #setTags(req: WireMessage): WireMessage {
    const raw = Array.isArray(req.tags) ? req.tags : [];
    const tags = [
      ...new Set(raw.filter((t): t is string => typeof t === "string").map((t) => t.replace(/^#/, ""))),
    ];
    if (tags.length > 10) throw new Refusal("too many tags (max 10)");
    for (const t of tags) {
      if (!TAG_RE.test(t)) throw new Refusal(`invalid tag "${t}"`);
    }
    const node = this.#node(idOf(req, "node_id"));
    this.#verifyOrAdmin(node, req);
    node.tags = tags;
    return { type: "set_tags_ok", node_id: node.id, tags: tags.length ? tags : null };
  }

  #lookup(req: WireMessage): WireMessage {
    const node = this.#node(idOf(req, "node_id"));
    const reply: WireMessage = {
      type: "lookup_ok",
      address: addressText(0, node.id),
      networks: node.networks,
      node_id: node.id,
      polo_score: node.polo,
      public: node.public,
      public_key: node.publicKey,
    };
    if (node.hostname) reply.hostname = node.hostname;
    if (node.tags.length) reply.tags = node.tags;
    if (node.taskExec) reply.task_exec = true;
    if (node.public) reply.real_addr = node.realAddr;
    return reply;
  }

  #mayReach(requester: Node, target: Node): boolean {
    if (target.public || this.#trust.has(pairKey(requester.id, target.id))) return true;
    return requester.networks.some((n) => n !== 0 && target.networks.includes(n));
  }

  #resolve(req: WireMessage): WireMessage {
    const requesterId = idOf(req, "requester_id");
    const requester = this.#nodes.get(requesterId);
    if (!requester) throw new Refusal(`resolve denied: requester node ${requesterId} is not registered`);
    this.#verify(requester, req);
    const target = this.#node(idOf(req, "node_id"));
    if (!this.#mayReach(requester, target)) {
      throw new Refusal(`resolve denied: node ${target.id} is private (establish mutual trust first)`);
    }
    return {
      type: "resolve_ok",
      key_age_days: Math.floor((this.now() - target.keyCreated) / 86_400_000),
      node_id: target.id,
      real_addr: target.realAddr,
    };
  }

  #resolveHostname(req: WireMessage): WireMessage {
    const hostname = str(req, "hostname");
    const id = this.#hostnames.get(hostname);
    const node = id !== undefined ? this.#nodes.get(id) : undefined;
    const requester = this.#nodes.get(idOf(req, "requester_id"));
    const visible = node &&
      (node.public || (requester && (requester.id === node.id || this.#mayReach(requester, node))));
    if (!node || !visible) throw new Refusal(`hostname "${hostname}" not found`);
    return {
      type: "resolve_hostname_ok",
      address: addressText(0, node.id),
      hostname,
      node_id: node.id,
      public: node.public,
    };
  }

  #requestHandshake(req: WireMessage): WireMessage {
    const from = this.#node(idOf(req, "from_node_id"));
    const to = this.#node(idOf(req, "to_node_id"));
    if (!str(req, "signature")) throw new Refusal("handshake request requires signature");
    try {
      this.#verify(from, req);
    } catch {
      throw new Refusal("handshake request signature verification failed");
    }
    const inbox = this.#inbox.get(to.id) ?? [];
    if (inbox.length >= 100) throw new Refusal(`handshake inbox full for node ${to.id}`);
    if (inbox.some((r) => r.from === from.id)) {
      throw new Refusal(`handshake request already pending from node ${from.id}`);
    }
    inbox.push({ from: from.id, justification: str(req, "justification"), at: this.now() });
    this.#inbox.set(to.id, inbox);
    return { type: "request_handshake_ok", status: "delivered" };
  }

  #createNetwork(req: WireMessage): WireMessage {
    if (!this.options.adminToken) throw new Refusal("network creation is disabled");
    if (str(req, "admin_token") !== this.options.adminToken) throw new Refusal("invalid admin token");
    const owner = this.#nodes.get(idOf(req, "node_id"));
    if (!owner) throw new Refusal(`node ${idOf(req, "node_id")} not registered`);
    const name = str(req, "name");
    if ([...this.#networks.values()].some((n) => n.name === name)) {
      throw new Refusal(`network "${name}" already exists`);
    }
    const id = this.#nextNet++;
    this.#networks.set(id, {
      id,
      name,
      joinRule: str(req, "join_rule") || "open",
      token: str(req, "token"),
      members: [owner.id],
      roles: new Map([[owner.id, "owner"]]),
      created: this.now(),
    });
    owner.networks.push(id);
    return { type: "create_network_ok", enterprise: false, name, network_id: id };
  }

  #membership(req: WireMessage): WireMessage {
    const joining = req.type === "join_network";
    const nodeId = idOf(req, "node_id");
    const netId = idOf(req, "network_id", 0xffff);
    if (netId === 0) throw new Refusal(`cannot ${joining ? "join" : "leave"} the backbone network`);
    const node = this.#nodes.get(nodeId);
    if (!node) throw new Refusal(`node ${nodeId} not registered`);
    this.#verifyOrAdmin(node, req);
    const net = this.#networks.get(netId);
    if (!net) throw new Refusal(`network ${netId}: network not found`);
    if (joining) {
      if (net.joinRule === "token" && str(req, "token") !== net.token) {
        throw new Refusal(`invalid token for network ${netId}`);
      }
      if (net.joinRule === "invite") {
        throw new Refusal("invite-only networks require invite_to_network + respond_invite flow");
      }
      if (node.networks.includes(netId)) throw new Refusal(`node ${nodeId} already in network ${netId}`);
      net.members.push(nodeId);
      net.roles.set(nodeId, "member");
      node.networks.push(netId);
      return { type: "join_network_ok", address: addressText(netId, nodeId), network_id: netId };
    }
    if (!node.networks.includes(netId)) {
      throw new Refusal(`node ${nodeId} is not a member of network ${netId}`);
    }
    net.members = net.members.filter((m) => m !== nodeId);
    net.roles.delete(nodeId);
    node.networks = node.networks.filter((n) => n !== netId);
    return { type: "leave_network_ok", network_id: netId };
  }

  #listNodes(req: WireMessage): WireMessage {
    const netId = idOf(req, "network_id", 0xffff);
    if (netId === 0 && !(this.options.adminToken && str(req, "admin_token") === this.options.adminToken)) {
      throw new Refusal("listing backbone nodes is not permitted (use lookup with a specific node_id)");
    }
    const net = this.#networks.get(netId);
    if (!net) throw new Refusal(`network ${netId}: network not found`);
    const nodes = net.members.map((id) => this.#nodes.get(id)).filter((n): n is Node => !!n).map((n) => {
      const entry: WireMessage = {
        address: addressText(netId, n.id),
        last_seen: rfc3339(n.lastSeen),
        node_id: n.id,
        polo_score: n.polo,
        public: n.public,
      };
      if (n.hostname) entry.hostname = n.hostname;
      if (n.public) entry.real_addr = n.realAddr;
      if (net.roles.has(n.id)) entry.role = net.roles.get(n.id);
      if (n.tags.length) entry.tags = n.tags;
      if (n.taskExec) entry.task_exec = true;
      return entry;
    });
    return { type: "list_nodes_ok", nodes };
  }
}

function pairKey(a: number, b: number): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

function hostnameProblem(hostname: string): string {
  if (RESERVED_HOSTNAMES.has(hostname)) return `hostname "${hostname}" is reserved`;
  if (hostname.length > 63) return "hostname too long (max 63 characters)";
  if (!HOSTNAME_RE.test(hostname)) {
    return "hostname must be lowercase alphanumeric with hyphens, start/end with alphanumeric";
  }
  return "";
}
