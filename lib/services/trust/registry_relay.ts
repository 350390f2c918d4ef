/**
 * The trust service's side of the registry (docs/protocol/services.md §1.5): the relayed requests and
 * answers a poll returns, checked into typed lists; trust pairs reported; and the shared
 * network that lets a request be approved without the operator.
 * @module
 */
import type { Logger } from "../../log.ts";
import type { RegistryClient } from "../../registry/client.ts";

/** Largest node id (u32). */
const MAX_NODE_ID = 0xffff_ffff;

/** A request relayed by the registry (its signature is the sender's, over the signing text). */
export interface RelayedRequest {
  from: number;
  justification: string;
  signature: string;
}

/** An answer to our request, relayed by the registry. */
export interface RelayedResponse {
  from: number;
  accept: boolean;
}

/** The registry calls of the trust service, with their replies checked. */
export class TrustRegistry {
  readonly #registry: RegistryClient;
  readonly #log: Logger;
  readonly #self: () => number;

  constructor(registry: RegistryClient, self: () => number, log: Logger) {
    this.#registry = registry;
    this.#self = self;
    this.#log = log;
  }

  /** Fetches what the registry holds for us; entries with a bad node id (or from ourselves) are skipped. */
  async poll(): Promise<{ requests: RelayedRequest[]; responses: RelayedResponse[] }> {
    const reply = await this.#registry.pollHandshakes();
    const self = this.#self();
    const requests = asList(reply.requests).map((r) => ({
      from: Number(r.from_node_id),
      justification: typeof r.justification === "string" ? r.justification : "",
      signature: typeof r.signature === "string" ? r.signature : "",
    })).filter((r) => validNode(r.from) && r.from !== self);
    const responses = asList(reply.responses).map((r) => ({
      from: Number(r.from_node_id),
      accept: r.accept === true,
    })).filter((r) => validNode(r.from));
    return { requests, responses };
  }

  /** The first non-backbone network both nodes belong to (registry `lookup`), or 0 (also on failure). */
  async sharedNetwork(peer: number): Promise<number> {
    try {
      const [mine, theirs] = await Promise.all([
        this.#registry.lookup(this.#self()),
        this.#registry.lookup(peer),
      ]);
      const ours = new Set(asNumbers(mine.networks));
      return asNumbers(theirs.networks).find((n) => n !== 0 && ours.has(n)) ?? 0;
    } catch (err) {
      this.#log.info("network check failed", { peer, err });
      return 0;
    }
  }

  /** Reports that we trust `peer`; a failure is logged (it is re-reported after re-registration). */
  async reportTrust(peer: number): Promise<void> {
    try {
      await this.#registry.reportTrust(peer);
    } catch (err) {
      this.#log.info("registry report_trust failed", { peer, err });
    }
  }
}

/** True for a node id a peer may have (1..2^32-1). */
export function validNode(n: number): boolean {
  return Number.isInteger(n) && n > 0 && n <= MAX_NODE_ID;
}

function asList(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter((e) => e !== null && typeof e === "object") : [];
}

function asNumbers(v: unknown): number[] {
  return Array.isArray(v) ? v.filter((n): n is number => typeof n === "number") : [];
}
