/**
 * Beacons, polo scores and the audit log (docs/protocol/registry.md §5.6, §5.7), plus the
 * reference message types this registry does not implement, which get an
 * explicit "not supported" error instead of "unknown message type".
 * @module
 */
import { RequestError } from "../errors.ts";
import { readId, readNetworkId, readNodeId, readNumber, readString, U32_MAX } from "../fields.ts";
import { auditEntryToWire } from "../state/audit.ts";
import { MAX_POLO_SCORE } from "../state/apply.ts";
import { requireAdmin, requireNode } from "./authz.ts";
import { addressText, knownNode } from "./common.ts";
import type { OpContext, OpSpec } from "./context.ts";
import { MAX_ADDR_LENGTH } from "./nodes.ts";

/** Beacons not refreshed within this are forgotten (the reference's TTL). */
export const BEACON_TTL_MS = 60_000;
/** Most beacons remembered. */
export const MAX_BEACONS = 1024;
/** Default `get_audit_log` page. */
export const DEFAULT_AUDIT_LIMIT = 100;
/** Largest `get_audit_log` page (the ring holds no more by default). */
export const MAX_AUDIT_LIMIT = 1000;

const beaconRegister: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const id = readId(req, "beacon_id", U32_MAX, true);
    const addr = readString(req, "addr", MAX_ADDR_LENGTH, true);
    if (ctx.config.compat === "strict") requireAdmin(ctx);
    const old = ctx.beacons.get(id);
    if (!old && ctx.beacons.size >= MAX_BEACONS) {
      throw new RequestError(`too many beacons (max ${MAX_BEACONS})`, "limit");
    }
    ctx.beacons.set(id, { addr, expires: ctx.now + BEACON_TTL_MS });
    // Refreshes every 30 s are not news; only a new beacon or a moved one reaches the audit trail.
    if (!old || old.addr !== addr) ctx.emit({ kind: "beacon.registered", beacon_id: id, addr });
    return { type: "beacon_register_ok", beacon_id: id };
  },
};

const beaconList: OpSpec = {
  rate: "query",
  write: false,
  run(_req, ctx) {
    const beacons = [...ctx.beacons]
      .filter(([, b]) => b.expires > ctx.now)
      .sort(([a], [b]) => a - b)
      .map(([id, b]) => ({ id, addr: b.addr }));
    return { type: "beacon_list_ok", beacons };
  },
};

function scoreReply(type: string, ctx: OpContext, id: number) {
  return { type, node_id: id, address: addressText(0, id), polo_score: ctx.state.nodes.get(id)!.poloScore };
}

function readScore(req: Record<string, unknown>, key: string): number {
  const v = readNumber(req, key);
  if (v === undefined) throw new RequestError(`${key} required`);
  if (!Number.isInteger(v) || Math.abs(v) > MAX_POLO_SCORE) {
    throw new RequestError(`invalid ${key}: must be an integer within ±${MAX_POLO_SCORE}`);
  }
  return v;
}

/**
 * Strict mode: a reporter (not the subject) signs, or the admin; a node may lower its own
 * score (a task submitter spends a point), never raise it. Reference mode: unauthenticated, as there.
 */
function authorizeScoreWrite(ctx: OpContext, subject: number, reporter: number, delta?: number): void {
  if (ctx.config.compat === "reference" && !ctx.authn.token && reporter === 0) return;
  if (ctx.authn.admin) {
    ctx.actor = "admin";
    return;
  }
  if (reporter === 0) requireAdmin(ctx);
  if (reporter === subject && !(delta !== undefined && delta < 0)) {
    throw new RequestError("cannot raise your own polo score", "forbidden");
  }
  knownNode(ctx, reporter);
  requireNode(ctx, reporter, false);
}

const updateScore: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    const delta = readScore(req, "delta");
    const reporter = readNodeId(req, "reporter_id", false);
    knownNode(ctx, id);
    authorizeScoreWrite(ctx, id, reporter, delta);
    if (delta !== 0) ctx.emit({ kind: "score.updated", node_id: id, delta });
    return scoreReply("update_polo_score_ok", ctx, id);
  },
};

const setScore: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    const score = readScore(req, "polo_score");
    knownNode(ctx, id);
    if (ctx.config.compat === "strict" || ctx.authn.token) requireAdmin(ctx);
    ctx.emit({ kind: "score.set", node_id: id, score });
    return scoreReply("set_polo_score_ok", ctx, id);
  },
};

const getScore: OpSpec = {
  rate: "query",
  write: false,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    knownNode(ctx, id);
    return scoreReply("get_polo_score_ok", ctx, id);
  },
};

const getAuditLog: OpSpec = {
  rate: "read",
  write: false,
  run(req, ctx) {
    requireAdmin(ctx);
    const netId = readNetworkId(req, "network_id", false);
    const limit = readId(req, "limit", MAX_AUDIT_LIMIT) || DEFAULT_AUDIT_LIMIT;
    return { type: "get_audit_log_ok", entries: ctx.state.audit.newest(limit, netId).map(auditEntryToWire) };
  },
};

/** Reference message types deliberately not implemented (the reference's whole-snapshot replication). */
export const UNSUPPORTED_TYPES: ReadonlySet<string> = new Set([
  "subscribe_replication",
]);

/** Handlers by message type. */
export const MISC_OPS: Record<string, OpSpec> = {
  beacon_register: beaconRegister,
  beacon_list: beaconList,
  update_polo_score: updateScore,
  set_polo_score: setScore,
  get_polo_score: getScore,
  get_audit_log: getAuditLog,
};
