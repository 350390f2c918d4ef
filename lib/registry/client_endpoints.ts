/**
 * The registries a client may talk to — a primary and its standbys, configured or learnt from
 * refusals — and which one is in use. Following the primary after a failover is a decision over
 * this list alone, so it lives here rather than in the request loop.
 * @module
 */
import { RegistryConnectionError } from "./errors.ts";
import type { WireMessage } from "./wire.ts";
import { parseHostPort } from "../net/hostport.ts";
import { errorMessage } from "../errors.ts";

/** A call follows at most this many refusals naming another primary. */
export const MAX_PRIMARY_REDIRECTS = 4;
/** Pause before trying the next registry when a refusal names no primary (a failover in progress). */
const PRIMARY_SEARCH_DELAY_MS = 250;
/** Registries a client keeps (configured plus learnt from refusals). */
const MAX_REGISTRY_ENDPOINTS = 16;

/** One registry's address. */
export interface RegistryEndpoint {
  hostname: string;
  port: number;
}

function splitHostPort(address: string): RegistryEndpoint {
  let hp;
  try {
    hp = parseHostPort(address, "registry address");
  } catch (err) {
    throw new RegistryConnectionError(errorMessage(err));
  }
  if (hp.port === 0) throw new RegistryConnectionError(`registry address needs a port, got "${address}"`);
  return { hostname: hp.host, port: hp.port };
}

/** `host:port`, with an IPv6 host in brackets. */
export function formatEndpoint(e: RegistryEndpoint): string {
  return e.hostname.includes(":") ? `[${e.hostname}]:${e.port}` : `${e.hostname}:${e.port}`;
}

/** The registry list of one client; `index` is the one in use. */
export class RegistryEndpoints {
  readonly #list: RegistryEndpoint[];
  #current = 0;

  /** Parses `host:port[,host:port…]`; a malformed entry throws RegistryConnectionError. */
  constructor(address: string) {
    this.#list = address.split(",").map((a) => splitHostPort(a.trim()));
  }

  /** The registry in use. */
  get current(): RegistryEndpoint {
    return this.#list[this.#current];
  }

  get index(): number {
    return this.#current;
  }

  set index(index: number) {
    this.#current = index;
  }

  get count(): number {
    return this.#list.length;
  }

  /** The index after the one in use, wrapping round. */
  nextIndex(): number {
    return (this.#current + 1) % this.#list.length;
  }

  /**
   * Where a refusal from a non-primary sends the call, or null when `reply` is not such a
   * refusal. A standby's `not_primary` names the primary: its index (added to the list if it was
   * not configured). Without a name (a failover in progress), or from a registry still starting,
   * the next configured one (the same one when starting), after a pause.
   */
  async primaryAfterRefusal(reply: WireMessage): Promise<number | null> {
    const starting = reply.code === "unavailable" && typeof reply.retry_after_ms === "number" &&
      /starting/.test(String(reply.error));
    if (reply.code !== "not_primary" && !starting) return null;
    const named = typeof reply.primary === "string" ? reply.primary : "";
    let next = -1;
    if (named) {
      try {
        const ep = splitHostPort(named);
        next = this.#list.findIndex((e) => e.hostname === ep.hostname && e.port === ep.port);
        if (next < 0 && this.#list.length < MAX_REGISTRY_ENDPOINTS) next = this.#list.push(ep) - 1;
      } catch { /* an unusable name: fall through to the next configured registry */ }
    }
    if (next === this.#current) next = -1;
    if (next < 0) {
      if (this.#list.length < 2 && !starting) return null;
      await new Promise((r) => setTimeout(r, PRIMARY_SEARCH_DELAY_MS));
      next = (this.#current + (starting ? 0 : 1)) % this.#list.length;
    }
    return next;
  }
}
