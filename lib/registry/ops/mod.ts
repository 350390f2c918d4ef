/**
 * Every message type the registry serves, by name.
 * @module
 */
import type { OpSpec } from "./context.ts";
import { AUDIT_EXPORT_OPS } from "./audit_export.ts";
import { DISCOVERY_OPS } from "./discovery.ts";
import { MISC_OPS, UNSUPPORTED_TYPES } from "./misc.ts";
import { NETWORK_OPS } from "./networks.ts";
import { NODE_OPS } from "./nodes.ts";
import { TRUST_OPS } from "./trust.ts";
import { IDENTITY_OPS } from "./identity.ts";

export type { Authn, CompatMode, NewEvent, OpConfig, OpContext, OpSpec } from "./context.ts";
export { UNSUPPORTED_TYPES };

/** Handler table. */
export const OPS: ReadonlyMap<string, OpSpec> = new Map(Object.entries({
  ...NODE_OPS,
  ...DISCOVERY_OPS,
  ...TRUST_OPS,
  ...NETWORK_OPS,
  ...MISC_OPS,
  ...IDENTITY_OPS,
  ...AUDIT_EXPORT_OPS,
}));
