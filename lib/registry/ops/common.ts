/**
 * Small helpers shared by the handlers: address text, time formats, node and
 * network look-ups that fail with the reference's "not found" texts.
 * @module
 */
import { Address } from "../../protocol/address.ts";
import { RequestError } from "../errors.ts";
import type { NetworkRecord, NodeRecord } from "../state/model.ts";
import type { OpContext } from "./context.ts";

/** The text address of `node` in `network` (`N:NNNN.HHHH.LLLL`). */
export function addressText(network: number, node: number): string {
  return new Address(network, node).toString();
}

/** RFC 3339 UTC with whole seconds, as the reference writes times. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The live (online) node or a not-found error. */
export function liveNode(ctx: OpContext, id: number): NodeRecord {
  const n = ctx.state.liveNode(id);
  if (!n) throw new RequestError(`node ${id} not found`, "not_found");
  return n;
}

/** A registered node, online or dormant, or a not-found error. */
export function knownNode(ctx: OpContext, id: number): NodeRecord {
  const n = ctx.state.nodes.get(id);
  if (!n) throw new RequestError(`node ${id} not found`, "not_found");
  return n;
}

/** A network other than the backbone, or a not-found error. */
export function network(ctx: OpContext, id: number): NetworkRecord {
  const net = ctx.state.networks.get(id);
  if (!net) throw new RequestError(`network ${id} not found`, "not_found");
  return net;
}

/** Whole days since the node's key was created or last rotated. */
export function keyAgeDays(n: NodeRecord, now: number): number {
  const since = n.keyRotated || n.keyCreated;
  return since ? Math.floor((now - since) / 86_400_000) : 0;
}
