/**
 * Identity integration, provisioning and directory sync (docs/protocol/registry.md
 * §5.8, §9), all admin-only: the identity webhook and IdP settings, external ids,
 * `validate_token`, `provision_network` blueprints and `directory_sync`. Every
 * change goes through the same events the individual operations emit, so a
 * blueprint or a sync is as durable and replicated as the calls it stands for.
 * @module
 */
import { RequestError } from "../errors.ts";
import { readArray, readBool, readNetworkId, readNodeId, readString } from "../fields.ts";
import {
  type AssignableRole,
  IDP_TYPES,
  type IdpConfig,
  idpToJson,
  type PreAssignment,
} from "../identity/state.ts";
import { MAX_TOKEN_LENGTH as MAX_JWT_LENGTH, type TokenVerdict, verifyToken } from "../identity/jwt.ts";
import { MAX_EXTERNAL_ID_LENGTH } from "../identity/webhook.ts";
import type { JoinRule } from "../state/events.ts";
import { MAX_NETWORK_ID, type NetworkRecord } from "../state/model.ts";
import type { WireMessage } from "../wire.ts";
import { requireAdmin, tokenHash } from "./authz.ts";
import { knownNode, network, rfc3339 } from "./common.ts";
import type { OpContext, OpSpec } from "./context.ts";
import {
  MAX_ALLOWED_PORTS,
  MAX_DESCRIPTION_BYTES,
  MAX_MEMBERS_POLICY,
  MAX_TOKEN_LENGTH,
} from "./networks.ts";
import { MAX_NAME_LENGTH, validateHostname, validateNetworkName } from "./validate.ts";

/** Longest URL accepted for a webhook, IdP or JWKS. */
export const MAX_URL_LENGTH = 2048;
/** Longest IdP text field (issuer, client id, tenant, domain). */
export const MAX_IDP_FIELD_LENGTH = 512;
/** Most pre-assignments per network (blueprint roles plus directory additions). */
export const MAX_PRE_ASSIGNMENTS = 10_000;
/** Most entries in one `directory_sync`. */
export const MAX_DIRECTORY_ENTRIES = 10_000;

/** An http(s) URL, or "" (clears). */
function readUrl(o: WireMessage, key: string): string {
  const url = readString(o, key, MAX_URL_LENGTH);
  if (url === "") return "";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RequestError(`invalid ${key}: not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new RequestError(`invalid ${key}: must be http or https`);
  }
  return url;
}

function readObject(o: WireMessage, key: string, required = false): WireMessage | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new RequestError(`${key} required`);
    return undefined;
  }
  if (typeof v !== "object" || Array.isArray(v)) {
    throw new RequestError(`invalid field ${key}: must be an object`);
  }
  return v as WireMessage;
}

/** Reads an IdP description (set_idp_config's fields or a blueprint's identity_provider); null = clear. */
function readIdp(o: WireMessage, typeKey: string): IdpConfig | null {
  const type = readString(o, typeKey, 32);
  const url = readUrl(o, "url");
  if (type === "" || url === "") return null;
  if (!IDP_TYPES.includes(type)) {
    throw new RequestError(`invalid idp_type ${JSON.stringify(type)}: one of ${IDP_TYPES.join(", ")}`);
  }
  return {
    type,
    url,
    issuer: readString(o, "issuer", MAX_IDP_FIELD_LENGTH),
    clientId: readString(o, "client_id", MAX_IDP_FIELD_LENGTH),
    tenantId: readString(o, "tenant_id", MAX_IDP_FIELD_LENGTH),
    domain: readString(o, "domain", MAX_IDP_FIELD_LENGTH),
    jwksUrl: readUrl(o, "jwks_url"),
  };
}

function readExternalId(o: WireMessage, key: string, required: boolean): string {
  return readString(o, key, MAX_EXTERNAL_ID_LENGTH, required);
}

/** `admin`/`member`; ownership is never granted through identity mappings. */
function readAssignableRole(v: unknown, where: string): AssignableRole {
  if (v === "admin" || v === "member") return v;
  throw new RequestError(`invalid role ${JSON.stringify(v)} in ${where}: admin or member`);
}

const setIdentityWebhook: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const url = readUrl(req, "url");
    requireAdmin(ctx);
    if (url !== ctx.state.identity.webhookUrl) ctx.emit({ kind: "identity.webhook_set", url });
    return { type: "set_identity_webhook_ok", status: url ? "enabled" : "disabled" };
  },
};

const setExternalId: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    const externalId = readExternalId(req, "external_id", false);
    requireAdmin(ctx);
    knownNode(ctx, id);
    ctx.emit({ kind: "identity.external_id_set", node_id: id, external_id: externalId });
    return { type: "set_external_id_ok", node_id: id, external_id: externalId };
  },
};

const getIdentity: OpSpec = {
  rate: "read",
  write: false,
  run(req, ctx) {
    const id = readNodeId(req, "node_id");
    requireAdmin(ctx);
    const n = knownNode(ctx, id);
    return { type: "get_identity_ok", node_id: id, external_id: n.externalId, owner: n.owner };
  },
};

const setIdpConfig: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const idp = readIdp(req, "idp_type");
    requireAdmin(ctx);
    ctx.emit({ kind: "idp.configured", idp: idp ? idpToJson(idp) : null });
    const reply: WireMessage = { type: "set_idp_config_ok", status: idp ? "configured" : "cleared" };
    if (idp) reply.idp_type = idp.type;
    return reply;
  },
};

const getIdpConfig: OpSpec = {
  rate: "read",
  write: false,
  run(_req, ctx) {
    requireAdmin(ctx);
    const idp = ctx.state.identity.idp;
    if (!idp) return { type: "get_idp_config_ok", configured: false };
    const reply: WireMessage = {
      type: "get_idp_config_ok",
      configured: true,
      idp_type: idp.type,
      url: idp.url,
    };
    if (idp.issuer) reply.issuer = idp.issuer;
    if (idp.clientId) reply.client_id = idp.clientId;
    if (idp.tenantId) reply.tenant_id = idp.tenantId;
    if (idp.domain) reply.domain = idp.domain;
    if (idp.jwksUrl) reply.jwks_url = idp.jwksUrl;
    return reply;
  },
};

const validateToken: OpSpec = {
  rate: "read",
  write: false,
  async prepare(req, ctx): Promise<TokenVerdict> {
    const token = readString(req, "token", MAX_JWT_LENGTH, true);
    requireAdmin(ctx); // before any outbound request
    const idp = ctx.state.identity.idp;
    if (!idp) return { verified: false, error: "no identity provider configured" };
    return await verifyToken(token, {
      jwksUrl: idp.jwksUrl || idp.url,
      issuer: idp.issuer,
      audience: idp.clientId,
      now: ctx.now,
    }, ctx.identity.jwks);
  },
  run(_req, ctx) {
    return { type: "validate_token_ok", ...(ctx.prepared as TokenVerdict) };
  },
};

// --- Blueprints ---

interface Blueprint {
  name: string;
  joinRule: JoinRule;
  joinToken: string;
  enterprise: boolean;
  policy: { maxMembers?: number; allowedPorts?: number[]; description?: string };
  roles: PreAssignment[] | undefined;
  idp: IdpConfig | null | undefined;
  identityUrl: string | undefined;
  auditUrl: string;
  auditExport: boolean;
  networkAdminToken: string;
}

/** Validates a whole blueprint before anything is applied. */
export function parseBlueprint(b: WireMessage): Blueprint {
  const name = readString(b, "name", MAX_NAME_LENGTH + 1, true);
  validateNetworkName(name);
  const joinRule = (readString(b, "join_rule", 16) || "open") as JoinRule;
  if (!["open", "token", "invite"].includes(joinRule)) {
    throw new RequestError(`unknown join rule: ${joinRule} (invalid)`);
  }
  const joinToken = readString(b, "join_token", MAX_TOKEN_LENGTH);
  if (joinRule === "token" && !joinToken) throw new RequestError("join_token required for a token network");
  const enterprise = readBool(b, "enterprise");
  if (joinRule === "invite" && !enterprise) {
    throw new RequestError(
      "enterprise feature: invite-only networks require the enterprise flag",
      "forbidden",
    );
  }
  const policy: Blueprint["policy"] = {};
  const p = readObject(b, "policy");
  if (p) {
    const max = p.max_members;
    if (max !== undefined && max !== null && max !== 0) {
      if (typeof max !== "number" || !Number.isInteger(max) || max < 0 || max > MAX_MEMBERS_POLICY) {
        throw new RequestError(`invalid max_members: must be an integer 0-${MAX_MEMBERS_POLICY}`);
      }
      policy.maxMembers = max;
    }
    const ports = readArray(p, "allowed_ports", MAX_ALLOWED_PORTS);
    if (ports && ports.length) {
      if (!ports.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 1 && x <= 65535)) {
        throw new RequestError("invalid allowed_ports: each must be an integer 1-65535");
      }
      policy.allowedPorts = [...new Set(ports as number[])];
    }
    const description = readString(p, "description", MAX_DESCRIPTION_BYTES * 4);
    if (description) {
      if (new TextEncoder().encode(description).length > MAX_DESCRIPTION_BYTES) {
        throw new RequestError(`description too long (max ${MAX_DESCRIPTION_BYTES} bytes)`);
      }
      policy.description = description;
    }
  }
  let roles: PreAssignment[] | undefined;
  const rawRoles = readArray(b, "roles", MAX_PRE_ASSIGNMENTS);
  if (rawRoles) {
    // Matching is case-insensitive, so ids differing only in case are one entry (the last wins).
    const byId = new Map<string, PreAssignment>();
    rawRoles.forEach((r, i) => {
      if (!r || typeof r !== "object") throw new RequestError(`invalid roles[${i}]: must be an object`);
      const externalId = readExternalId(r as WireMessage, "external_id", true);
      byId.set(externalId.toLowerCase(), {
        externalId,
        role: readAssignableRole((r as WireMessage).role, `roles[${i}]`),
      });
    });
    roles = [...byId.values()];
  }
  const ip = readObject(b, "identity_provider");
  let idp: IdpConfig | null | undefined;
  if (ip) {
    readString(ip, "url", MAX_URL_LENGTH, true);
    idp = readIdp(ip, "type");
    if (!idp) throw new RequestError("identity_provider.type required");
  }
  const hooks = readObject(b, "webhooks");
  const identityUrl = hooks && hooks.identity_url !== undefined ? readUrl(hooks, "identity_url") : undefined;
  const auditUrl = hooks ? readUrl(hooks, "audit_url") : "";
  return {
    name,
    joinRule,
    joinToken,
    enterprise,
    policy,
    roles,
    idp,
    identityUrl,
    auditUrl,
    auditExport: readObject(b, "audit_export") !== undefined,
    networkAdminToken: readString(b, "network_admin_token", MAX_TOKEN_LENGTH),
  };
}

const provisionNetwork: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const bp = parseBlueprint(readObject(req, "blueprint", true)!);
    requireAdmin(ctx);
    const s = ctx.state;
    const actions: string[] = [];
    let id = s.networkNames.get(bp.name);
    const created = id === undefined;
    if (id === undefined) {
      id = s.nextNetwork;
      if (id > MAX_NETWORK_ID) {
        throw new RequestError("network ID space exhausted (too many networks)", "limit");
      }
      ctx.emit({
        kind: "network.created",
        network_id: id,
        name: bp.name,
        join_rule: bp.joinRule,
        token_hash: bp.joinToken ? tokenHash(bp.joinToken) : "",
        admin_token_hash: bp.networkAdminToken ? tokenHash(bp.networkAdminToken) : "",
        enterprise: bp.enterprise,
        creator: 0,
      });
      actions.push(`created network ${id} (${bp.name}, ${bp.joinRule})`);
    } else {
      actions.push(`found network ${id} (${bp.name})`);
      if (bp.enterprise && !s.networks.get(id)!.enterprise) {
        ctx.emit({ kind: "network.enterprise_set", network_id: id, enterprise: true });
        actions.push("enabled enterprise");
      }
    }
    const { maxMembers, allowedPorts, description } = bp.policy;
    if (maxMembers !== undefined || allowedPorts !== undefined || description !== undefined) {
      const net = s.networks.get(id)!;
      if (maxMembers !== undefined && maxMembers < net.members.size) {
        throw new RequestError(
          `cannot set max_members ${maxMembers} below the current member count ${net.members.size}`,
        );
      }
      ctx.emit({
        kind: "network.policy_set",
        network_id: id,
        ...(maxMembers !== undefined ? { max_members: maxMembers } : {}),
        ...(allowedPorts !== undefined ? { allowed_ports: allowedPorts } : {}),
        ...(description !== undefined ? { description } : {}),
      });
      actions.push("applied policy");
    }
    if (bp.idp) {
      ctx.emit({ kind: "idp.configured", idp: idpToJson(bp.idp) });
      actions.push(`configured identity provider (${bp.idp.type})`);
    }
    if (bp.identityUrl !== undefined && bp.identityUrl !== s.identity.webhookUrl) {
      ctx.emit({ kind: "identity.webhook_set", url: bp.identityUrl });
      actions.push(bp.identityUrl ? "set identity webhook" : "cleared identity webhook");
    }
    if (bp.auditUrl) actions.push("skipped webhooks.audit_url: use set_webhook");
    if (bp.auditExport) actions.push("skipped audit_export: use set_audit_export");
    if (bp.roles !== undefined) {
      ctx.emit({
        kind: "network.pre_assignments_set",
        network_id: id,
        entries: bp.roles.map((r) => ({ external_id: r.externalId, role: r.role })),
      });
      actions.push(`set ${bp.roles.length} role pre-assignment(s)`);
    }
    ctx.emit({ kind: "network.provisioned", network_id: id, name: bp.name, created, actions });
    return { type: "provision_network_ok", network_id: id, name: bp.name, created, actions };
  },
};

const getProvisionStatus: OpSpec = {
  rate: "read",
  write: false,
  run(_req, ctx) {
    requireAdmin(ctx);
    const s = ctx.state;
    const nets = [...s.networks.values()].sort((a, b) => a.id - b.id).map((net) => {
      const o: WireMessage = {
        network_id: net.id,
        name: net.name,
        enterprise: net.enterprise,
        members: net.members.size,
        join_rule: net.joinRule,
      };
      if (net.policy.maxMembers) o.max_members = net.policy.maxMembers;
      if (net.policy.allowedPorts.length) o.allowed_ports = [...net.policy.allowedPorts];
      const pre = s.identity.preAssign.get(net.id);
      if (pre?.length) o.rbac_pre_assignments = pre.map((p) => ({ external_id: p.externalId, role: p.role }));
      return o;
    });
    const reply: WireMessage = { type: "get_provision_status_ok", networks: nets.length ? nets : null };
    if (s.identity.idp) reply.idp_type = s.identity.idp.type;
    reply.identity_webhook = s.identity.webhookUrl !== "";
    return reply;
  },
};

// --- Directory sync ---

interface DirectoryEntry {
  externalId: string;
  displayName: string;
  role: AssignableRole | "";
  disabled: boolean;
}

function readDirectoryEntries(req: WireMessage): DirectoryEntry[] {
  const raw = readArray(req, "entries", MAX_DIRECTORY_ENTRIES);
  if (!raw || raw.length === 0) throw new RequestError("entries required (non-empty)");
  const out: DirectoryEntry[] = [];
  raw.forEach((e, i) => {
    if (!e || typeof e !== "object" || Array.isArray(e)) {
      throw new RequestError(`invalid entries[${i}]: must be an object`);
    }
    const o = e as WireMessage;
    const externalId = readExternalId(o, "external_id", false);
    if (!externalId) return; // entries without an id are skipped, as the reference does
    readString(o, "email", MAX_IDP_FIELD_LENGTH);
    readArray(o, "groups", 1000);
    const rawRole = o.role === undefined || o.role === null || o.role === "" ? "" : o.role;
    out.push({
      externalId,
      displayName: readString(o, "display_name", MAX_IDP_FIELD_LENGTH),
      role: rawRole === "" ? "" : readAssignableRole(rawRole, `entries[${i}]`),
      disabled: readBool(o, "disabled"),
    });
  });
  return out;
}

/** Members of `net` by lower-cased external id. */
function membersByExternalId(ctx: OpContext, net: NetworkRecord): Map<string, number> {
  const map = new Map<string, number>();
  for (const id of net.members) {
    const ext = ctx.state.nodes.get(id)?.externalId;
    if (ext) map.set(ext.toLowerCase(), id);
  }
  return map;
}

const directorySync: OpSpec = {
  rate: "write",
  write: true,
  run(req, ctx) {
    const netId = readNetworkId(req, "network_id");
    const entries = readDirectoryEntries(req);
    const removeUnlisted = readBool(req, "remove_unlisted");
    requireAdmin(ctx);
    const net = network(ctx, netId);
    if (!net.enterprise) {
      throw new RequestError(
        "enterprise feature: directory sync requires an enterprise network",
        "forbidden",
      );
    }
    const s = ctx.state;
    const byExt = membersByExternalId(ctx, net);
    const pre = new Map<string, PreAssignment>(
      (s.identity.preAssign.get(netId) ?? []).map((p) => [p.externalId.toLowerCase(), p]),
    );
    let preChanged = false;
    const listed = new Set<string>();
    const actions: string[] = [];
    let mapped = 0, unmapped = 0, updated = 0, disabled = 0;
    const kick = (nodeId: number, why: string) => {
      if (net.roles.get(nodeId) === "owner") {
        actions.push(`kept owner node ${nodeId} (${why}): transfer ownership first`);
        return;
      }
      ctx.emit({ kind: "member.kicked", network_id: netId, node_id: nodeId });
      disabled++;
      actions.push(`removed node ${nodeId} (${why})`);
    };
    for (const e of entries) {
      const key = e.externalId.toLowerCase();
      listed.add(key);
      const nodeId = byExt.get(key);
      if (nodeId === undefined || !net.members.has(nodeId)) {
        unmapped++;
        if (e.role && !e.disabled && pre.get(key)?.role !== e.role) {
          pre.set(key, { externalId: e.externalId, role: e.role });
          preChanged = true;
          actions.push(`pre-assigned ${e.externalId} as ${e.role}`);
        }
        continue;
      }
      mapped++;
      if (e.disabled) {
        kick(nodeId, `${e.externalId} disabled`);
        continue;
      }
      const current = net.roles.get(nodeId);
      if (e.role && current !== "owner" && current !== e.role) {
        ctx.emit({ kind: "member.role_set", network_id: netId, node_id: nodeId, role: e.role });
        updated++;
        actions.push(`set node ${nodeId} (${e.externalId}) role ${e.role}`);
      }
      const node = s.nodes.get(nodeId)!;
      if (e.displayName && !node.hostname) {
        const name = e.displayName.toLowerCase();
        try {
          validateHostname(name);
          if (s.hostnameIndex.has(name)) throw new RequestError(`hostname "${name}" already in use`);
          ctx.emit({ kind: "node.hostname_set", node_id: nodeId, hostname: name });
          actions.push(`set node ${nodeId} hostname ${name}`);
        } catch (err) {
          if (!(err instanceof RequestError)) throw err;
          actions.push(`kept node ${nodeId} without hostname: ${err.message}`);
        }
      }
    }
    if (removeUnlisted) {
      for (const [ext, nodeId] of byExt) {
        if (!listed.has(ext) && net.members.has(nodeId)) kick(nodeId, `${ext} not in directory`);
      }
    }
    if (preChanged) {
      if (pre.size > MAX_PRE_ASSIGNMENTS) {
        throw new RequestError(`too many pre-assignments (max ${MAX_PRE_ASSIGNMENTS})`, "limit");
      }
      ctx.emit({
        kind: "network.pre_assignments_set",
        network_id: netId,
        entries: [...pre.values()].map((p) => ({ external_id: p.externalId, role: p.role })),
      });
    }
    ctx.emit({
      kind: "directory.synced",
      network_id: netId,
      total: entries.length,
      mapped,
      unmapped,
      updated,
      disabled,
    });
    return { type: "directory_sync_ok", updated, disabled, mapped, unmapped, actions };
  },
};

const directoryStatus: OpSpec = {
  rate: "read",
  write: false,
  run(req, ctx) {
    const netId = readNetworkId(req, "network_id");
    requireAdmin(ctx);
    const net = network(ctx, netId);
    let mapped = 0;
    for (const id of net.members) if (ctx.state.nodes.get(id)?.externalId) mapped++;
    const reply: WireMessage = {
      type: "directory_status_ok",
      network_id: netId,
      total: net.members.size,
      mapped,
      unmapped: net.members.size - mapped,
      enterprise: net.enterprise,
    };
    const pre = ctx.state.identity.preAssign.get(netId)?.length ?? 0;
    if (pre) reply.pre_assignments = pre;
    const last = ctx.state.identity.lastSync.get(netId);
    if (last) reply.last_sync = rfc3339(last);
    return reply;
  },
};

/** Handlers by message type. */
export const IDENTITY_OPS: Record<string, OpSpec> = {
  set_identity_webhook: setIdentityWebhook,
  set_external_id: setExternalId,
  get_identity: getIdentity,
  set_idp_config: setIdpConfig,
  get_idp_config: getIdpConfig,
  validate_token: validateToken,
  provision_network: provisionNetwork,
  get_provision_status: getProvisionStatus,
  directory_sync: directorySync,
  directory_status: directoryStatus,
};
