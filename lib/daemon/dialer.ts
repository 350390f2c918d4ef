/**
 * The daemon's one way to open a stream to a peer, used by IPC Dial and by the built-in
 * services (trust, tasks): resolve the peer through the registry, run the NAT strategy
 * (direct SYNs, a punch request on the early SYN timeouts, the beacon relay after the 3rd,
 * see {@link NatTraversal.onSynTimeout}), look the peer up again when a SYN goes unanswered (it
 * may have restarted elsewhere), honour the caller's timeout and abort signal, and report
 * every failure as one {@link DialError} whose reason says what the user can do about it.
 */
import { errorMessage, PilotError } from "../errors.ts";
import { Address } from "../protocol/address.ts";
import type { SessionManager } from "../transport/manager.ts";
import type { CloseReason, Stream } from "../transport/stream.ts";
import type { PeerDirectory } from "./peers.ts";
import type { NatTraversal } from "./nat.ts";

/**
 * Why a dial failed:
 * - `private`: the registry will not give out the node's address (private, no trust, no shared network);
 * - `refused`: the node answered with a reset (it does not trust us, or nothing listens on the port);
 * - `offline`: the node is unknown to the registry or has no address;
 * - `timeout`: no answer in time (every SYN, or the caller's deadline);
 * - `reset`: the connection was reset while opening;
 * - `aborted`: the caller gave up, or the daemon is shutting down.
 */
export type DialFailure = "private" | "refused" | "offline" | "timeout" | "reset" | "aborted";

/**
 * A dial did not complete. The message keeps the IPC texts programs match on
 * (`connection refused`, `dial timeout`, `dial: …`) and adds what the user can do.
 */
export class DialError extends PilotError {
  constructor(
    readonly reason: DialFailure,
    readonly node: number,
    readonly port: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Options of one dial. */
export interface DialOptions {
  /** Give up after this long (the SYN schedule alone gives up after about 31 s). */
  timeoutMs?: number;
  /** Abort the dial (the half-open stream is reset). */
  signal?: AbortSignal;
}

/** What the dialer needs from the daemon. */
export interface DialerDeps {
  manager: Pick<SessionManager, "dial">;
  peers: Pick<PeerDirectory, "ensure" | "refresh">;
  nat: Pick<NatTraversal, "beforeDial" | "onSynTimeout">;
  /** Our node id (a dial to ourselves stays local: no resolution, no NAT). */
  nodeId(): number;
}

/** Opens streams to peers. */
export class Dialer {
  readonly #deps: DialerDeps;

  constructor(deps: DialerDeps) {
    this.#deps = deps;
  }

  /**
   * Opens a stream to `node`:`port` and resolves once it is established (data may already
   * be waiting in it). Rejects with {@link DialError}.
   */
  async dial(node: number, port: number, options: DialOptions = {}): Promise<Stream> {
    const { manager, peers, nat } = this.#deps;
    const { signal, timeoutMs } = options;
    if (signal?.aborted) throw aborted(node, port);
    try {
      await peers.ensure(node);
    } catch (err) {
      throw resolveFailure(node, port, err);
    }
    if (signal?.aborted) throw aborted(node, port);
    const remote = node !== this.#deps.nodeId();
    if (remote) nat.beforeDial(node);
    // Our traffic is on network 0 (docs/protocol/transport.md §1 caveat).
    const stream = manager.dial(new Address(0, node), port, {
      onSynTimeout: (expiries) => {
        if (!remote) return;
        void peers.refresh(node);
        nat.onSynTimeout(node, expiries);
      },
    });
    const started = performance.now();
    return await new Promise<Stream>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        stream.onOpen = stream.onClose = undefined;
      };
      const giveUp = (err: DialError) => {
        finish();
        stream.abort();
        reject(err);
      };
      const onAbort = () => giveUp(aborted(node, port));
      stream.onOpen = () => {
        finish();
        resolve(stream);
      };
      stream.onClose = (reason) => {
        finish();
        reject(closeFailure(node, port, reason, performance.now() - started));
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => giveUp(timedOut(node, port, timeoutMs)), timeoutMs);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${Math.round(ms / 1000)} s`;
}

function aborted(node: number, port: number): DialError {
  return new DialError("aborted", node, port, `dial: aborted (node ${node} port ${port})`);
}

function timedOut(node: number, port: number, ms: number): DialError {
  return new DialError(
    "timeout",
    node,
    port,
    `dial timeout: no answer from node ${node} port ${port} after ${duration(ms)} ` +
      `(is it online? behind a NAT, both nodes need a beacon)`,
  );
}

/** A failed registry resolution: the node is private to us, or unknown/offline. */
function resolveFailure(node: number, port: number, err: unknown): DialError {
  const why = errorMessage(err);
  if (/private|denied|forbidden/i.test(why)) {
    return new DialError(
      "private",
      node,
      port,
      `dial: node ${node} is private: the registry will not give out its address (resolve denied); ` +
        `run \`pilot handshake ${node}\` first and wait for its approval`,
      { cause: err },
    );
  }
  return new DialError("offline", node, port, `dial: ${why} (is node ${node} registered and online?)`, {
    cause: err,
  });
}

/** The session layer closed the half-open stream. */
function closeFailure(node: number, port: number, reason: CloseReason, elapsedMs: number): DialError {
  switch (reason) {
    case "refused":
      return new DialError(
        "refused",
        node,
        port,
        `connection refused: node ${node} reset the dial to port ${port} (nothing listens there, or it ` +
          `does not trust this node: run \`pilot handshake ${node}\`)`,
      );
    case "dial-timeout":
    case "timeout":
      return timedOut(node, port, elapsedMs);
    case "local":
    case "aborted":
      return new DialError("aborted", node, port, `dial: ${reason} (node ${node} port ${port})`);
    default:
      return new DialError("reset", node, port, `dial: connection ${reason} by node ${node} while opening`);
  }
}
