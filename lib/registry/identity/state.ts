/**
 * The identity part of registry state (docs/protocol/registry.md §9): the
 * identity-webhook URL, the IdP configuration, per-network role pre-assignments
 * by external id, and when each network's directory was last synced. Like the
 * rest of the state it changes only through events (state/identity_apply.ts), so
 * it is durable and replicates; `identityToJson` / `identityFromJson` are its
 * snapshot codec.
 * @module
 */

/** The identity-provider types a blueprint or `set_idp_config` may name. */
export const IDP_TYPES: readonly string[] = ["oidc", "saml", "webhook", "entra_id", "ldap"];

/** Roles a pre-assignment or directory entry may grant (ownership is never handed out this way). */
export type AssignableRole = "admin" | "member";

/** The stored IdP configuration. */
export interface IdpConfig {
  type: string;
  /** Identity-webhook URL (and the JWKS URL unless `jwksUrl` is set, as the reference conflates them). */
  url: string;
  issuer: string;
  clientId: string;
  tenantId: string;
  domain: string;
  /** Where `validate_token` fetches the JWKS; "" = `url`. */
  jwksUrl: string;
}

/** One pre-assignment: a node whose external id matches (case-insensitively) gets `role` when it joins. */
export interface PreAssignment {
  externalId: string;
  role: AssignableRole;
}

/** The identity state. */
export interface IdentityState {
  /** POSTed `{token}` at registration when a node presents an identity token; "" = none. */
  webhookUrl: string;
  idp: IdpConfig | null;
  /** Network id → its pre-assignments. */
  preAssign: Map<number, PreAssignment[]>;
  /** Network id → Unix ms of its last directory sync. */
  lastSync: Map<number, number>;
}

/** Fresh, empty identity state. */
export function newIdentityState(): IdentityState {
  return { webhookUrl: "", idp: null, preAssign: new Map(), lastSync: new Map() };
}

/** The role pre-assigned to `externalId` in network `netId`, if any. */
export function preAssignedRole(
  s: IdentityState,
  netId: number,
  externalId: string,
): AssignableRole | undefined {
  if (!externalId) return undefined;
  const want = externalId.toLowerCase();
  return s.preAssign.get(netId)?.find((p) => p.externalId.toLowerCase() === want)?.role;
}

type Json = Record<string, unknown>;

/** Snapshot form. */
export function identityToJson(s: IdentityState): Json {
  const o: Json = {};
  if (s.webhookUrl) o.webhook_url = s.webhookUrl;
  if (s.idp) o.idp = idpToJson(s.idp);
  if (s.preAssign.size) {
    o.pre_assign = [...s.preAssign].map(([net, list]) => [
      net,
      list.map((p) => ({ external_id: p.externalId, role: p.role })),
    ]);
  }
  if (s.lastSync.size) o.last_sync = [...s.lastSync];
  return o;
}

/** The IdP config in snake_case, as events and snapshots carry it. */
export interface IdpJson {
  type: string;
  url: string;
  issuer: string;
  client_id: string;
  tenant_id: string;
  domain: string;
  jwks_url: string;
}

/** The IdP config as events and snapshots carry it. */
export function idpToJson(c: IdpConfig): IdpJson {
  return {
    type: c.type,
    url: c.url,
    issuer: c.issuer,
    client_id: c.clientId,
    tenant_id: c.tenantId,
    domain: c.domain,
    jwks_url: c.jwksUrl,
  };
}

/** Reads an IdP config written by `idpToJson`; missing fields become "". */
export function idpFromJson(o: Partial<IdpJson> | Json): IdpConfig {
  return {
    type: str(o.type),
    url: str(o.url),
    issuer: str(o.issuer),
    clientId: str(o.client_id),
    tenantId: str(o.tenant_id),
    domain: str(o.domain),
    jwksUrl: str(o.jwks_url),
  };
}

/** Rebuilds identity state from `identityToJson` output (absent or malformed parts are empty). */
export function identityFromJson(raw: unknown): IdentityState {
  const s = newIdentityState();
  if (!raw || typeof raw !== "object") return s;
  const o = raw as Json;
  s.webhookUrl = str(o.webhook_url);
  if (o.idp && typeof o.idp === "object") s.idp = idpFromJson(o.idp as Json);
  if (Array.isArray(o.pre_assign)) {
    for (const entry of o.pre_assign) {
      if (!Array.isArray(entry) || typeof entry[0] !== "number" || !Array.isArray(entry[1])) continue;
      const list = (entry[1] as Json[]).map((p) => ({
        externalId: str(p?.external_id),
        role: (p?.role === "admin" ? "admin" : "member") as AssignableRole,
      })).filter((p) => p.externalId !== "");
      if (list.length) s.preAssign.set(entry[0], list);
    }
  }
  if (Array.isArray(o.last_sync)) {
    for (const e of o.last_sync) {
      if (Array.isArray(e) && typeof e[0] === "number" && typeof e[1] === "number") {
        s.lastSync.set(e[0], e[1]);
      }
    }
  }
  return s;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}
