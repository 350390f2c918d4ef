/**
 * The driver: a Deno program's handle on a local pilot daemon over its Unix
 * socket (docs/protocol/ipc.md §3, §7). {@link connect} opens the socket; {@link PilotClient}
 * turns the command set into promise-returning methods, on top of the
 * {@link IpcSession} that correlates replies and routes pushes.
 * @module
 */
import { Logger } from "../log.ts";
import { Address, BACKBONE_NETWORK } from "../protocol/address.ts";
import {
  Cmd,
  type DaemonError,
  DEFAULT_SOCKET_PATH,
  encodeRequest,
  type HandshakeOp,
  IpcError,
  MAX_SENDTO_DATA,
  type NetworkOp,
  type RegistryRequest,
} from "../ipc/codec.ts";
import type {
  DeregisterReply,
  HandshakeReply,
  HealthReply,
  InfoReply,
  NetworkReply,
  PendingHandshake,
  ResolveHostnameReply,
  SetHostnameReply,
  SetTagsReply,
  SetTaskExecReply,
  SetVisibilityReply,
  SetWebhookReply,
  TrustedPeer,
} from "../ipc/replies.ts";
import { type CallOptions, waitWithDeadline } from "./deadline.ts";
import type { Connection } from "./connection.ts";
import type { Listener } from "./listener.ts";
import { type ClientStats, type Datagram, IpcSession } from "./session.ts";

/** Default bound on request/reply calls made without their own timeout or signal (dials can take ~40 s). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Default bound on opening the socket. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/**
 * Options of {@link connect}.
 *
 * @example
 * ```ts
 * import { connect, type ConnectOptions } from "../../mod.ts";
 * const options: ConnectOptions = {
 *   timeoutMs: 2_000,
 *   requestTimeoutMs: 30_000,
 *   onAsyncError: (err) => console.warn("send failed:", err.text),
 * };
 * async function open(): Promise<void> {
 *   await using client = await connect("/tmp/pilot.sock", options);
 *   console.log((await client.info()).address);
 * }
 * console.assert(typeof open === "function");
 * ```
 */
export interface ConnectOptions extends CallOptions {
  /** Bound for request/reply calls given neither timeout nor signal (default {@link DEFAULT_REQUEST_TIMEOUT_MS}). */
  requestTimeoutMs?: number;
  /** Receives Send/SendTo errors that cannot be tied to a connection. Default: logged at debug level. */
  onAsyncError?: (err: DaemonError) => void;
  logger?: Logger;
}

/**
 * Opens the daemon's socket (default `/tmp/pilot.sock`). Rejects with
 * {@link IpcError} `disconnected` when nothing listens there, `timeout` or
 * `aborted` per the options.
 *
 * @example
 * ```ts
 * import { connect, IpcError } from "../../mod.ts";
 * async function nodeAddress(socketPath: string): Promise<string | null> {
 *   try {
 *     await using client = await connect(socketPath, { timeoutMs: 1_000 });
 *     return (await client.info({ timeoutMs: 5_000 })).address;
 *   } catch (err) {
 *     if (err instanceof IpcError && err.reason === "disconnected") return null; // no daemon there
 *     throw err;
 *   }
 * }
 * console.assert(typeof nodeAddress === "function");
 * ```
 */
export async function connect(
  socketPath: string = DEFAULT_SOCKET_PATH,
  options: ConnectOptions = {},
): Promise<PilotClient> {
  const conn = await waitWithDeadline<Deno.UnixConn>(
    `connect to ${socketPath}`,
    options,
    DEFAULT_CONNECT_TIMEOUT_MS,
    (resolve, reject) => {
      let cancelled = false;
      Deno.connect({ transport: "unix", path: socketPath }).then(
        (c) => cancelled ? c.close() : resolve(c),
        (err) =>
          reject(
            new IpcError("disconnected", `cannot connect to the daemon at ${socketPath}: ${err.message}`, {
              cause: err,
            }),
          ),
      );
      return () => cancelled = true;
    },
  );
  return new PilotClient(conn, options);
}

/**
 * A connection to the local daemon. Every method that waits takes
 * {@link CallOptions}; request/reply methods default to
 * {@link DEFAULT_REQUEST_TIMEOUT_MS}, while `accept`, `read` and `recvFrom` wait
 * for traffic without limit unless told otherwise. Nothing waits forever on a
 * dead daemon: when the socket closes every waiter rejects with
 * {@link IpcError} `disconnected`, and after {@link PilotClient.close} with
 * `closed`.
 *
 * Receive backpressure: when a connection holds more than 4 MiB of unread data
 * the client stops reading the socket until it drains, which holds back the
 * daemon (and the remote sender) but also delays this client's other replies and
 * pushes. Read every connection you open, or close it.
 *
 * @example
 * ```ts
 * import { connect, type PilotClient } from "../../mod.ts";
 * // Serves one reply per connection on port 9000, until the client closes.
 * async function serve(client: PilotClient): Promise<void> {
 *   const listener = await client.listen(9000);
 *   for await (const conn of listener) {
 *     const request = await conn.read({ timeoutMs: 10_000 });
 *     await conn.write(new TextEncoder().encode(`got ${request?.length ?? 0} bytes`));
 *     await conn.close();
 *   }
 * }
 * async function main(): Promise<void> {
 *   await using client = await connect();
 *   const info = await client.info();
 *   console.log(`node ${info.address}, ${info.peers} peers`);
 *   await serve(client);
 * }
 * console.assert(typeof main === "function");
 * ```
 */
export class PilotClient {
  readonly #session: IpcSession;
  /** Resolves with the reason once the client is unusable (daemon gone or closed locally). */
  readonly closed: Promise<IpcError>;
  /** Counters of data dropped to stay bounded. */
  readonly stats: ClientStats;

  /** @internal Use {@link connect}. */
  constructor(conn: Deno.UnixConn, options: ConnectOptions = {}) {
    const log = options.logger ?? new Logger("sdk");
    this.#session = new IpcSession(conn, {
      logger: log,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      onAsyncError: options.onAsyncError ??
        ((err) => log.debug("unrouted asynchronous daemon error", { err: err.message })),
    });
    this.closed = this.#session.closed;
    this.stats = this.#session.stats;
  }

  // -------------------------------------------------------------------------
  // Streams

  /**
   * Binds `port` (Bind → BindOK) and returns its {@link Listener}. A port this
   * client bound before and whose listener was closed is reused locally, since
   * the daemon keeps it bound. Daemon refusals (e.g. `port 7 already bound`)
   * reject with {@link DaemonError}.
   */
  listen(port: number, options?: CallOptions): Promise<Listener> {
    if (this.#session.hasListener(port)) {
      return Promise.reject(
        new IpcError("invalid-value", `port ${port} already has a listener in this client`),
      );
    }
    if (this.#session.isBound(port) && !this.#session.failure) {
      return Promise.resolve(this.#session.newListener(port));
    }
    return this.#session.request(
      { cmd: Cmd.Bind, port },
      Cmd.BindOK,
      `bind port ${port}`,
      options,
      (reply) => this.#session.newListener(reply.port),
      (reply) => this.#session.markBound(reply.port),
    );
  }

  /**
   * Opens a stream to `addr:port` (Dial → DialOK). `addr` is an {@link Address}
   * or its text form. The daemon blocks until the connection is established or
   * fails (`dial timeout`, `connection refused`, …, as {@link DaemonError}).
   */
  dial(addr: Address | string, port: number, options?: CallOptions): Promise<Connection> {
    let target: Address;
    try {
      target = typeof addr === "string" ? Address.parse(addr) : addr;
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#session.request(
      { cmd: Cmd.Dial, addr: target, port },
      Cmd.DialOK,
      `dial ${target}:${port}`,
      options,
      (reply) =>
        this.#session.newConnection({ id: reply.connId, localPort: 0, remoteAddr: target, remotePort: port }),
      (reply) => this.#session.sendDetachedClose(reply.connId),
    );
  }

  /**
   * Closes connection `connId` of this daemon and waits for its CloseOK (the
   * administrative disconnect of `pilotctl disconnect`).
   */
  disconnect(connId: number, options?: CallOptions): Promise<void> {
    return this.#session.request(
      { cmd: Cmd.Close, connId },
      Cmd.CloseOK,
      `close connection ${connId}`,
      options,
      () => {},
      undefined,
      connId,
    );
  }

  // -------------------------------------------------------------------------
  // Datagrams

  /**
   * Sends one datagram (fire-and-forget; node 0xFFFFFFFF broadcasts on the
   * address's network). Resolves once queued on the socket. Failures the
   * daemon reports later go to `onAsyncError`. Broadcast on network 0 and data
   * above one frame are refused locally with {@link IpcError}.
   */
  async sendTo(addr: Address | string, port: number, data: Uint8Array, options?: CallOptions): Promise<void> {
    const target = typeof addr === "string" ? Address.parse(addr) : addr;
    if (target.isBroadcast() && target.network === BACKBONE_NETWORK) {
      throw new IpcError("invalid-value", "broadcast on backbone network is not permitted");
    }
    if (data.length > MAX_SENDTO_DATA) {
      throw new IpcError("frame-too-large", `datagram of ${data.length} bytes exceeds ${MAX_SENDTO_DATA}`);
    }
    await this.#session.writeFrame(encodeRequest({ cmd: Cmd.SendTo, addr: target, port, data }), options);
  }

  /**
   * The next datagram pushed by the daemon (up to {@link DATAGRAM_QUEUE_CAPACITY}
   * are kept). Waits without limit unless given a timeout or signal.
   */
  recvFrom(options?: CallOptions): Promise<Datagram> {
    return this.#session.nextDatagram(options);
  }

  // -------------------------------------------------------------------------
  // Status and administration

  /** The daemon's status (InfoOK, docs/protocol/ipc.md §6.1). */
  info(options?: CallOptions): Promise<InfoReply> {
    return this.#json({ cmd: Cmd.Info }, Cmd.InfoOK, "info", options);
  }

  /** A short health summary (HealthOK, docs/protocol/ipc.md §6.2). */
  health(options?: CallOptions): Promise<HealthReply> {
    return this.#json({ cmd: Cmd.Health }, Cmd.HealthOK, "health", options);
  }

  /** Resolves a hostname through the daemon's registry (public nodes only, as in the reference). */
  resolveHostname(hostname: string, options?: CallOptions): Promise<ResolveHostnameReply> {
    return this.#json(
      { cmd: Cmd.ResolveHostname, hostname },
      Cmd.ResolveHostnameOK,
      "resolve_hostname",
      options,
    );
  }

  /** Sets (or with "" clears) this node's hostname. */
  setHostname(hostname: string, options?: CallOptions): Promise<SetHostnameReply> {
    return this.#json({ cmd: Cmd.SetHostname, hostname }, Cmd.SetHostnameOK, "set_hostname", options);
  }

  /** Makes this node public or private. */
  setVisibility(isPublic: boolean, options?: CallOptions): Promise<SetVisibilityReply> {
    return this.#json(
      { cmd: Cmd.SetVisibility, public: isPublic },
      Cmd.SetVisibilityOK,
      "set_visibility",
      options,
    );
  }

  /** Removes this node from the registry. */
  deregister(options?: CallOptions): Promise<DeregisterReply> {
    return this.#json({ cmd: Cmd.Deregister }, Cmd.DeregisterOK, "deregister", options);
  }

  /** Replaces this node's tags (the daemon allows at most 3). */
  setTags(tags: string[], options?: CallOptions): Promise<SetTagsReply> {
    return this.#json({ cmd: Cmd.SetTags, tags }, Cmd.SetTagsOK, "set_tags", options);
  }

  /** Points the daemon's webhook at `url` ("" disables it). */
  setWebhook(url: string, options?: CallOptions): Promise<SetWebhookReply> {
    return this.#json({ cmd: Cmd.SetWebhook, url }, Cmd.SetWebhookOK, "set_webhook", options);
  }

  /** Enables or disables task execution on this node. */
  setTaskExec(enabled: boolean, options?: CallOptions): Promise<SetTaskExecReply> {
    return this.#json({ cmd: Cmd.SetTaskExec, enabled }, Cmd.SetTaskExecOK, "set_task_exec", options);
  }

  // -------------------------------------------------------------------------
  // Trust handshakes (docs/protocol/ipc.md §5.1)

  /** Asks `nodeId` to trust this node; may block while the daemon dials the peer. */
  handshake(nodeId: number, justification = "", options?: CallOptions): Promise<HandshakeReply> {
    return this.#handshake({ sub: "request", nodeId, justification }, options);
  }

  /** Approves a pending trust request. */
  approveHandshake(nodeId: number, options?: CallOptions): Promise<HandshakeReply> {
    return this.#handshake({ sub: "approve", nodeId }, options);
  }

  /** Rejects a pending trust request. */
  rejectHandshake(nodeId: number, reason = "", options?: CallOptions): Promise<HandshakeReply> {
    return this.#handshake({ sub: "reject", nodeId, reason }, options);
  }

  /** Pending inbound trust requests. */
  async pendingHandshakes(options?: CallOptions): Promise<PendingHandshake[]> {
    const reply = await this.#handshake({ sub: "pending" }, options);
    return "pending" in reply && Array.isArray(reply.pending) ? reply.pending : [];
  }

  /** Peers this node trusts. */
  async trustedPeers(options?: CallOptions): Promise<TrustedPeer[]> {
    const reply = await this.#handshake({ sub: "trusted" }, options);
    return "trusted" in reply && Array.isArray(reply.trusted) ? reply.trusted : [];
  }

  /** Withdraws trust from `nodeId`. */
  revokeTrust(nodeId: number, options?: CallOptions): Promise<HandshakeReply> {
    return this.#handshake({ sub: "revoke", nodeId }, options);
  }

  // -------------------------------------------------------------------------
  // Networks (docs/protocol/ipc.md §5.2); replies are the registry's objects, verbatim

  /** Networks known to the registry. */
  networkList(options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "list" }, options);
  }

  /** Joins a network, with an optional token. */
  networkJoin(networkId: number, token = "", options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "join", networkId, token }, options);
  }

  /** Leaves a network. */
  networkLeave(networkId: number, options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "leave", networkId }, options);
  }

  /** Lists a network's members. */
  networkMembers(networkId: number, options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "members", networkId }, options);
  }

  /** Invites a node into a network. */
  networkInvite(networkId: number, targetNodeId: number, options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "invite", networkId, targetNodeId }, options);
  }

  /** Fetches pending network invitations. */
  networkPollInvites(options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "poll-invites" }, options);
  }

  /** Accepts or declines an invitation. */
  networkRespondInvite(networkId: number, accept: boolean, options?: CallOptions): Promise<NetworkReply> {
    return this.#network({ sub: "respond-invite", networkId, accept }, options);
  }

  /**
   * Asks the daemon to make a registry request for this client, signed as the node (ours, Network
   * sub-command 0x10): `lookup`, `register`, network `create_network` … `get_audit_log`. An
   * `admin_token` field replaces the daemon's own. Resolves to the registry's reply.
   */
  registryRequest(request: RegistryRequest, options?: CallOptions): Promise<NetworkReply> {
    return this.#json(
      { cmd: Cmd.Network, op: { sub: "registry", request } },
      Cmd.NetworkOK,
      `network ${request.type}`,
      options,
    );
  }

  // -------------------------------------------------------------------------
  // Lifecycle

  /**
   * Closes the socket; the daemon then releases every port and connection this
   * client owned. Pending calls reject with {@link IpcError} `closed`. Idempotent.
   */
  async close(): Promise<void> {
    this.#session.fail(new IpcError("closed", "client closed"));
    await this.closed;
  }

  /** `await using` support. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // -------------------------------------------------------------------------
  // Requests

  #json<T>(
    req: Parameters<IpcSession["json"]>[0],
    expect: Parameters<IpcSession["json"]>[1],
    what: string,
    options?: CallOptions,
  ): Promise<T> {
    return this.#session.json<T>(req, expect, what, options);
  }

  #handshake(op: HandshakeOp, options?: CallOptions): Promise<HandshakeReply> {
    return this.#json({ cmd: Cmd.Handshake, op }, Cmd.HandshakeOK, `handshake ${op.sub}`, options);
  }

  #network(op: NetworkOp, options?: CallOptions): Promise<NetworkReply> {
    return this.#json({ cmd: Cmd.Network, op }, Cmd.NetworkOK, `network ${op.sub}`, options);
  }
}
