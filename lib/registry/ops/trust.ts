/**
 * Trust and the handshake relay (docs/protocol/registry.md §6). Trust is directed here: a
 * node declares trust in a peer for itself (`report_trust`) or by accepting the
 * peer's request; it can never declare a peer's trust in it. The relay checks
 * the requester's Ed25519 signature over `handshake:<from>:<to>` against its
 * registered key, and auto-approves a request the target has already consented
 * to (it trusts the requester, or asked for the same handshake itself).
 * @module
 */
import { handshakeChallenge } from "../auth.ts";
import { RequestError } from "../errors.ts";
import { readBool, readNodeId, readString } from "../fields.ts";
import { HANDSHAKE_INBOX_LIMIT } from "../state/apply.ts";
import type { WireMessage } from "../wire.ts";
import { requireNode } from "./authz.ts";
import { knownNode, liveNode } from "./common.ts";
import type { OpContext, OpSpec } from "./context.ts";

/** Longest justification text relayed with a request. */
export const MAX_JUSTIFICATION = 1024;

function pair(req: WireMessage, ctx: OpContext, verb: string): [number, number] {
  const node = readNodeId(req, "node_id");
  const peer = readNodeId(req, "peer_id");
  if (node === peer) throw new RequestError(`cannot ${verb} yourself (invalid request)`);
  knownNode(ctx, node);
  requireNode(ctx, node, false);
  knownNode(ctx, peer);
  return [node, peer];
}

const reportTrust: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const [node, peer] = pair(req, ctx, "trust");
    if (!ctx.state.trusts(node, peer)) {
      ctx.emit({ kind: "trust.created", node_a: node, node_b: peer, via: "report" });
    }
    return { type: "report_trust_ok" };
  },
};

const revokeTrust: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const [node, peer] = pair(req, ctx, "revoke trust in");
    if (!ctx.state.isTrusted(node, peer)) {
      throw new RequestError(`no trust pair between ${node} and ${peer} (not found)`, "not_found");
    }
    ctx.emit({ kind: "trust.revoked", node_a: node, node_b: peer });
    return { type: "revoke_trust_ok" };
  },
};

const checkTrust: OpSpec = {
  rate: "query",
  write: false,
  run(req, ctx) {
    const a = readNodeId(req, "node_id", false);
    const b = readNodeId(req, "peer_id", false);
    const trusted = a !== 0 && b !== 0 && (ctx.state.isTrusted(a, b) || ctx.state.shareNetwork(a, b));
    return { type: "check_trust_ok", trusted };
  },
};

const requestHandshake: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const from = readNodeId(req, "from_node_id");
    const to = readNodeId(req, "to_node_id");
    const justification = readString(req, "justification", MAX_JUSTIFICATION);
    const signature = readString(req, "signature", 256);
    if (from === to) throw new RequestError("cannot request a handshake with yourself (invalid request)");
    liveNode(ctx, from);
    requireNode(ctx, from, false);
    // The relayed signature itself must verify (authn.ts checked it), since the target may rely on it too.
    if (!ctx.authn.staticValid) {
      throw new RequestError(
        `signature verification failed: request_handshake needs signature over "${
          handshakeChallenge(from, to)
        }"`,
        "unauthorized",
      );
    }
    liveNode(ctx, to);
    const s = ctx.state;
    const mutual = (s.handshakeInbox.get(from) ?? []).some((r) => r.from === to);
    if (s.trusts(to, from) || mutual) {
      const reason = mutual ? "mutual" : "trusted";
      ctx.emit({ kind: "handshake.auto_approved", from_node_id: from, to_node_id: to, reason });
      return { type: "request_handshake_ok", status: "delivered", auto_approved: true, reason };
    }
    const inbox = s.handshakeInbox.get(to) ?? [];
    if (inbox.some((r) => r.from === from && !r.delivered)) {
      throw new RequestError(`handshake request already pending from node ${from}`, "conflict");
    }
    if (inbox.length >= HANDSHAKE_INBOX_LIMIT && inbox.every((r) => r.delivered === false)) {
      throw new RequestError(`handshake inbox full for node ${to} (too many requests)`, "limit");
    }
    ctx.emit({ kind: "handshake.requested", from_node_id: from, to_node_id: to, justification, signature });
    return { type: "request_handshake_ok", status: "delivered" };
  },
};

const pollHandshakes: OpSpec = {
  rate: "read", // polling never draws on the heartbeat budget
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    knownNode(ctx, id);
    requireNode(ctx, id, false);
    const pending = (ctx.state.handshakeInbox.get(id) ?? []).filter((r) => !r.delivered);
    const answers = ctx.state.handshakeResponses.get(id) ?? [];
    const requests = pending.map((r) => ({
      from_node_id: r.from,
      justification: r.justification,
      timestamp: Math.floor(r.t / 1000),
      signature: r.signature,
    }));
    const responses = answers.map((r) => ({
      from_node_id: r.from,
      accept: r.accept,
      timestamp: Math.floor(r.t / 1000),
    }));
    if (pending.length || answers.length) ctx.emit({ kind: "handshakes.polled", node_id: id });
    return { type: "poll_handshakes_ok", requests, responses };
  },
};

const respondHandshake: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const node = readNodeId(req, "node_id");
    const peer = readNodeId(req, "peer_id");
    const accept = readBool(req, "accept");
    if (node === peer) throw new RequestError("cannot respond to yourself (invalid request)");
    knownNode(ctx, node);
    requireNode(ctx, node, false);
    knownNode(ctx, peer);
    ctx.emit({ kind: "handshake.responded", node_id: node, peer_id: peer, accept });
    return { type: "respond_handshake_ok", accept, peer_id: peer };
  },
};

/** Handlers by message type. */
export const TRUST_OPS: Record<string, OpSpec> = {
  report_trust: reportTrust,
  revoke_trust: revokeTrust,
  check_trust: checkTrust,
  request_handshake: requestHandshake,
  poll_handshakes: pollHandshakes,
  respond_handshake: respondHandshake,
};
