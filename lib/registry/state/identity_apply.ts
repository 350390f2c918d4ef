/**
 * `applyEvent` handlers for the identity events (docs/protocol/registry.md §9),
 * kept apart from apply.ts; they obey the same rules: deterministic, total (an
 * event naming a node or network since removed is a no-op), one audit entry per
 * change.
 * @module
 */
import type { EventOf } from "./events.ts";
import type { AuditEntry } from "./audit.ts";
import type { RegistryState } from "./model.ts";
import { idpFromJson, idpToJson } from "../identity/state.ts";
import type { RegistryEvent } from "./events.ts";

/** apply.ts's audit writer, passed in so that this module does not import apply.ts back. */
export type AuditWriter = (
  s: RegistryState,
  ev: RegistryEvent,
  action: string,
  fields?: Partial<Pick<AuditEntry, "network_id" | "node_id" | "details" | "old" | "new">>,
) => void;

type IdentityKind =
  | "identity.webhook_set"
  | "identity.external_id_set"
  | "idp.configured"
  | "network.pre_assignments_set"
  | "network.provisioned"
  | "directory.synced";

type IdentityHandlers = { [K in IdentityKind]: (s: RegistryState, e: EventOf<K>) => void };

/** The identity handlers, writing audit entries with `audit`. */
export function identityHandlers(audit: AuditWriter): IdentityHandlers {
  return {
    "identity.webhook_set"(s, ev) {
      const old = s.identity.webhookUrl;
      s.identity.webhookUrl = ev.url;
      audit(s, ev, "identity.webhook_set", { old, new: ev.url });
    },
    "identity.external_id_set"(s, ev) {
      const n = s.nodes.get(ev.node_id);
      if (!n) return;
      const old = n.externalId;
      n.externalId = ev.external_id;
      audit(s, ev, "identity.external_id_set", { node_id: n.id, old, new: ev.external_id });
    },
    "idp.configured"(s, ev) {
      const old = s.identity.idp ? idpToJson(s.identity.idp) : null;
      const idp = ev.idp ? idpFromJson(ev.idp) : null;
      s.identity.idp = idp;
      s.identity.webhookUrl = idp ? idp.url : "";
      audit(s, ev, "idp.configured", { old, new: idp ? idpToJson(idp) : null });
    },
    "network.pre_assignments_set"(s, ev) {
      if (!s.networks.has(ev.network_id)) return;
      const old = s.identity.preAssign.get(ev.network_id)?.length ?? 0;
      if (ev.entries.length === 0) s.identity.preAssign.delete(ev.network_id);
      else {
        s.identity.preAssign.set(
          ev.network_id,
          ev.entries.map((e) => ({ externalId: e.external_id, role: e.role })),
        );
      }
      audit(s, ev, "network.pre_assignments_set", {
        network_id: ev.network_id,
        old,
        new: ev.entries.length,
      });
    },
    "network.provisioned"(s, ev) {
      if (!s.networks.has(ev.network_id)) return;
      audit(s, ev, "network.provisioned", {
        network_id: ev.network_id,
        details: { name: ev.name, created: ev.created, actions: ev.actions.length },
      });
    },
    "directory.synced"(s, ev) {
      if (!s.networks.has(ev.network_id)) return;
      s.identity.lastSync.set(ev.network_id, ev.t);
      audit(s, ev, "directory.synced", {
        network_id: ev.network_id,
        details: {
          total: ev.total,
          mapped: ev.mapped,
          unmapped: ev.unmapped,
          updated: ev.updated,
          disabled: ev.disabled,
        },
      });
    },
  };
}
