/**
 * Node lifecycle handlers (docs/protocol/registry.md §4, §5.1): register, heartbeat,
 * deregister, key rotation and expiry, and the per-node settings (visibility,
 * hostname, tags, task execution).
 * @module
 */
import { fromBase64 } from "../../bytes.ts";
import { ED25519_PUBLIC_KEY_LENGTH } from "../../crypto/ed25519.ts";
import { RequestError } from "../errors.ts";
import { readArray, readBool, readNodeId, readString } from "../fields.ts";
import type { RegisterMode } from "../state/events.ts";
import { MAX_NODE_ID } from "../state/model.ts";
import type { WireMessage } from "../wire.ts";
import { requireNode, unauthorized } from "./authz.ts";
import { addressText, keyAgeDays, knownNode, liveNode, rfc3339 } from "./common.ts";
import type { OpSpec } from "./context.ts";
import { MAX_NAME_LENGTH, MAX_RAW_TAGS, normalizeTags, validateHostname } from "./validate.ts";
import {
  MAX_IDENTITY_TOKEN_LENGTH,
  recordRegistrationIdentity,
  verifyRegistrationIdentity,
} from "./identity_hooks.ts";

/** Most LAN addresses a node may publish. */
export const MAX_LAN_ADDRS = 8;
/** Longest address text (`[v6]:port`). */
export const MAX_ADDR_LENGTH = 64;
/** Longest owner string. */
export const MAX_OWNER_LENGTH = 256;
/** A key may not be set to expire further out than this. */
export const MAX_KEY_EXPIRY_MS = 10 * 365 * 86_400_000;
/** Heartbeats within this of key expiry carry `key_expiry_warning`. */
export const KEY_EXPIRY_WARNING_MS = 86_400_000;

/** Checks a base64 Ed25519 public key; returns it unchanged. */
export function parsePublicKey(text: string, field: string): string {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(text);
  } catch {
    throw new RequestError(`invalid public key: ${field} is not base64`);
  }
  if (bytes.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw new RequestError(`invalid public key: ${field} must be 32 bytes, got ${bytes.length}`);
  }
  return text;
}

/** `ip:port` with IPv6 bracketed. */
function joinHostPort(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * The endpoint to publish: the TCP source IP of the registration with the port
 * from `listen_addr` (the reference's rule: only the daemon's port survives),
 * or the raw peer address when `listen_addr` has no usable port.
 */
export function observedEndpoint(peerIp: string, peerPort: number, listenAddr: string): string {
  const m = /:(\d{1,5})$/.exec(listenAddr);
  const port = m ? Number(m[1]) : NaN;
  return joinHostPort(peerIp, port >= 1 && port <= 65535 ? port : peerPort);
}

function readLanAddrs(req: WireMessage): string[] {
  const raw = readArray(req, "lan_addrs", MAX_LAN_ADDRS) ?? [];
  return raw.filter((a): a is string => typeof a === "string" && a !== "" && a.length <= MAX_ADDR_LENGTH);
}

const register: OpSpec = {
  rate: "register",
  write: true,
  // The identity webhook (if configured and a token is presented) answers before anything changes.
  prepare: verifyRegistrationIdentity,
  run(req, ctx) {
    const keyText = readString(req, "public_key", 128);
    if (!keyText) throw new RequestError("registration requires public_key (invalid request)");
    const key = parsePublicKey(keyText, "public_key");
    const listenAddr = readString(req, "listen_addr", MAX_ADDR_LENGTH);
    const owner = readString(req, "owner", MAX_OWNER_LENGTH);
    const hostname = readString(req, "hostname", MAX_NAME_LENGTH + 1);
    const lanAddrs = readLanAddrs(req);
    readString(req, "identity_token", MAX_IDENTITY_TOKEN_LENGTH);

    // Proof of possession: the request is signed by the key being registered.
    const possession = ctx.authn.method !== "none" && ctx.authn.key === key;
    if (ctx.authn.failure || (!possession && ctx.config.compat === "strict")) {
      if (ctx.authn.failure) throw unauthorized(ctx);
      throw new RequestError(
        "registration requires proof of key possession: sign the request (auth) with the registered key",
        "unauthorized",
      );
    }

    const s = ctx.state;
    let mode: RegisterMode = "new";
    let id = 0;
    const indexed = s.keyIndex.get(key);
    const holder = indexed !== undefined ? s.nodes.get(indexed) : undefined;
    if (indexed !== undefined && (!holder || holder.publicKey === key)) {
      id = indexed;
      mode = !holder ? "reclaimed" : holder.online ? "existing" : "revived";
    } else if (owner && s.ownerIndex.has(owner) && ctx.authn.admin) {
      // Taking over a node by owner string replaces its key: only the admin may do that.
      id = s.ownerIndex.get(owner)!;
      mode = "owner_reclaim";
    } else {
      id = s.nextNode;
      if (id > MAX_NODE_ID) throw new RequestError("node ID space exhausted", "limit");
    }
    ctx.actor = possession ? `node:${id}` : ctx.authn.admin ? "admin" : "anonymous";
    const realAddr = observedEndpoint(ctx.peer.ip, ctx.peer.port, listenAddr);
    ctx.emit({
      kind: "node.registered",
      node_id: id,
      public_key: key,
      owner,
      real_addr: realAddr,
      lan_addrs: lanAddrs,
      mode,
    });

    const reply: WireMessage = {
      type: "register_ok",
      node_id: id,
      network_id: 0,
      address: addressText(0, id),
      public_key: key,
      observed_addr: realAddr,
      protocol_version: 1,
      mode,
    };
    if (hostname) {
      try {
        validateHostname(hostname);
        const other = s.hostnameIndex.get(hostname);
        if (other !== undefined && other !== id) {
          throw new RequestError(`hostname "${hostname}" already in use by node ${other}`, "conflict");
        }
        if (s.nodes.get(id)!.hostname !== hostname) {
          ctx.emit({ kind: "node.hostname_set", node_id: id, hostname });
        }
      } catch (err) {
        if (!(err instanceof RequestError)) throw err;
        reply.hostname_error = err.message;
      }
    }
    recordRegistrationIdentity(ctx, id, reply);
    const node = s.nodes.get(id)!;
    if (node.hostname) reply.hostname = node.hostname;
    if (node.externalId) reply.external_id = node.externalId;
    return reply;
  },
};

const heartbeat: OpSpec = {
  rate: "heartbeat",
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    const node = liveNode(ctx, id);
    requireNode(ctx, id, false);
    if (node.keyExpires && ctx.now >= node.keyExpires) {
      ctx.emit({ kind: "key.expired_heartbeat_blocked", node_id: id });
      throw new RequestError(`node ${id}: key expired at ${rfc3339(node.keyExpires)}`, "forbidden");
    }
    ctx.emit({ kind: "node.heartbeat", node_id: id });
    const reply: WireMessage = { type: "heartbeat_ok", time: Math.floor(ctx.now / 1000) };
    if (node.keyExpires && node.keyExpires - ctx.now < KEY_EXPIRY_WARNING_MS) reply.key_expiry_warning = true;
    return reply;
  },
};

const deregister: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    if (!ctx.state.nodes.has(id)) return { type: "deregister_ok" };
    requireNode(ctx, id, true);
    ctx.emit({ kind: "node.deregistered", node_id: id });
    return { type: "deregister_ok" };
  },
};

const rotateKey: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    knownNode(ctx, id);
    const newKey = parsePublicKey(readString(req, "new_public_key", 128, true), "new_public_key");
    requireNode(ctx, id, false);
    const other = ctx.state.keyIndex.get(newKey);
    if (other !== undefined && other !== id && ctx.state.nodes.get(other)?.publicKey === newKey) {
      throw new RequestError(`public key already registered to node ${other}`, "conflict");
    }
    ctx.emit({ kind: "key.rotated", node_id: id, public_key: newKey });
    return { type: "rotate_key_ok", node_id: id, address: addressText(0, id), public_key: newKey };
  },
};

const setKeyExpiry: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    const text = readString(req, "expires_at", 64);
    let expires = 0;
    if (text !== "" && text !== "never") {
      expires = Date.parse(text);
      if (!/^\d{4}-\d\d-\d\dT/.test(text) || Number.isNaN(expires)) {
        throw new RequestError(`invalid expires_at: ${JSON.stringify(text)} is not an RFC 3339 time`);
      }
      if (expires <= ctx.now) throw new RequestError("invalid expires_at: must be in the future");
      if (expires - ctx.now > MAX_KEY_EXPIRY_MS) {
        throw new RequestError("invalid expires_at: more than 10 years ahead");
      }
    }
    knownNode(ctx, id);
    requireNode(ctx, id, true);
    const nets = [...(ctx.state.memberOf.get(id) ?? [])];
    if (!nets.some((n) => ctx.state.networks.get(n)?.enterprise)) {
      throw new RequestError(
        "enterprise feature: key expiry requires enterprise network membership",
        "forbidden",
      );
    }
    ctx.emit({ kind: "key.expiry_set", node_id: id, expires_at: expires });
    const reply: WireMessage = { type: "set_key_expiry_ok", node_id: id };
    if (expires) reply.expires_at = rfc3339(expires);
    return reply;
  },
};

const getKeyInfo: OpSpec = {
  rate: "read",
  write: false,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    const n = knownNode(ctx, id);
    const reply: WireMessage = {
      type: "get_key_info_ok",
      node_id: id,
      created_at: rfc3339(n.keyCreated),
      rotate_count: n.keyRotations,
      key_age_days: keyAgeDays(n, ctx.now),
    };
    if (n.keyRotated) reply.rotated_at = rfc3339(n.keyRotated);
    if (n.keyExpires) reply.expires_at = rfc3339(n.keyExpires);
    return reply;
  },
};

const setVisibility: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    const pub = readBool(req, "public");
    const n = knownNode(ctx, id);
    requireNode(ctx, id, true);
    if (n.public !== pub) ctx.emit({ kind: "node.visibility_set", node_id: id, public: pub });
    return { type: "set_visibility_ok", node_id: id, visibility: pub ? "public" : "private" };
  },
};

const setHostname: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    const hostname = readString(req, "hostname", MAX_NAME_LENGTH + 1);
    validateHostname(hostname);
    const n = knownNode(ctx, id);
    requireNode(ctx, id, true);
    const other = hostname ? ctx.state.hostnameIndex.get(hostname) : undefined;
    if (other !== undefined && other !== id) {
      throw new RequestError(`hostname "${hostname}" already in use by node ${other}`, "conflict");
    }
    if (n.hostname !== hostname) ctx.emit({ kind: "node.hostname_set", node_id: id, hostname });
    return { type: "set_hostname_ok", node_id: id, hostname };
  },
};

const setTags: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    const tags = normalizeTags(readArray(req, "tags", MAX_RAW_TAGS) ?? []);
    const n = knownNode(ctx, id);
    requireNode(ctx, id, true);
    if (n.tags.join(",") !== tags.join(",")) ctx.emit({ kind: "node.tags_set", node_id: id, tags });
    return { type: "set_tags_ok", node_id: id, tags: tags.length ? tags : null };
  },
};

const setTaskExec: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    const enabled = readBool(req, "enabled");
    const n = knownNode(ctx, id);
    requireNode(ctx, id, true);
    if (n.taskExec !== enabled) ctx.emit({ kind: "node.task_exec_set", node_id: id, enabled });
    return { type: "set_task_exec_ok", node_id: id, task_exec: enabled };
  },
};

/** Handlers by message type. */
export const NODE_OPS: Record<string, OpSpec> = {
  register,
  heartbeat,
  deregister,
  rotate_key: rotateKey,
  set_key_expiry: setKeyExpiry,
  get_key_info: getKeyInfo,
  set_visibility: setVisibility,
  set_hostname: setHostname,
  set_tags: setTags,
  set_task_exec: setTaskExec,
};
