/**
 * One-shot requests to replication peers: status probes at start-up, before an
 * automatic promotion and when a standby looks for the primary, and fence
 * announcements. Each uses a fresh connection without retries, so a dead peer
 * costs one timeout rather than stalling the caller.
 * @module
 */
import type { Logger } from "../../log.ts";
import { RegistryClient, RegistryReplyError } from "../client.ts";
import type { WireMessage } from "../wire.ts";
import type { ReplicationOptions, ReplicationStatus } from "./types.ts";

/** A peer asked for its status must answer within this long. */
export const PROBE_TIMEOUT_MS = 2_000;

/** One request to a peer on a fresh connection; an error reply is returned, not thrown. */
export async function callPeer(
  address: string,
  msg: WireMessage,
  timeoutMs: number,
  tls: ReplicationOptions["tls"],
): Promise<WireMessage> {
  const c = new RegistryClient({ address, tls, timeoutMs, dialTimeoutMs: timeoutMs, reconnectAttempts: 0 });
  try {
    return await c.request(msg);
  } catch (err) {
    if (err instanceof RegistryReplyError && err.reply) return err.reply as WireMessage;
    throw err;
  } finally {
    c.close();
  }
}

/** Status of every reachable peer other than `self`. */
export async function probePeers(
  peers: Iterable<string>,
  self: string,
  options: Pick<ReplicationOptions, "token" | "tls">,
  log: Logger,
): Promise<ReplicationStatus[]> {
  const targets = [...peers].filter((p) => p !== self);
  const replies = await Promise.all(
    targets.map((p) =>
      callPeer(p, { type: "repl_status", token: options.token }, PROBE_TIMEOUT_MS, options.tls).catch(
        (err) => {
          log.debug("peer did not answer a status probe", { peer: p, err });
          return null; // an unreachable peer is simply not counted
        },
      )
    ),
  );
  return replies.filter((r): r is WireMessage => r !== null && r.type === "repl_status_ok")
    .map((r) => r as unknown as ReplicationStatus);
}
