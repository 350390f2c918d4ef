/**
 * A nameserver client for applications (docs/protocol/services.md §8): each call dials the nameserver's port
 * 53 through the local daemon, sends one request and reads one answer. Registrations are made
 * in the name of the local node (the server sees the stream's source), so an A or S record can
 * only name this node's own address.
 *
 * @example
 * ```ts ignore
 * import { connect } from "../mod.ts";
 * import { NameserverClient } from "./nameserver.ts";
 * await using client = await connect("/tmp/pilot.sock");
 * const ns = new NameserverClient(client, "0:0000.0000.0005");
 * await ns.registerA("web", (await client.info()).address);
 * console.log((await ns.lookupA("web")).toString());
 * ```
 * @module
 */
import type { PilotClient } from "../client.ts";
import type { CallOptions } from "../deadline.ts";
import { Address } from "../../protocol/address.ts";
import { PORT_NAMESERVER } from "../../protocol/ports.ts";
import {
  NameserverError,
  type NameserverRequest,
  type NameserverResponse,
  type ServiceRecord,
} from "../../services/nameserver/codec.ts";
import { exchangeRequest } from "../../services/nameserver/exchange.ts";
import { closeQuietly } from "../../errors.ts";

export { NameserverError, type NameserverResponse, type ServiceRecord };

/** How long one exchange may take when the caller gives no deadline. */
export const NAMESERVER_TIMEOUT_MS = 10_000;

/** The nameserver answered `ERR <message>`; {@link message} is its text. */
export class NameserverRefusedError extends NameserverError {}

/** Options of {@link NameserverClient}. */
export interface NameserverClientOptions {
  /** Port of the nameserver (default 53). */
  port?: number;
}

/** Queries and registrations against one nameserver. */
export class NameserverClient {
  readonly server: Address;
  readonly #client: PilotClient;
  readonly #port: number;

  constructor(client: PilotClient, server: Address | string, options: NameserverClientOptions = {}) {
    this.#client = client;
    this.server = typeof server === "string" ? Address.parse(server) : server;
    this.#port = options.port ?? PORT_NAMESERVER;
  }

  /** The address registered for `name`; {@link NameserverRefusedError} when there is none. */
  async lookupA(name: string, options?: CallOptions): Promise<Address> {
    const r = expect(await this.request({ op: "query", type: "A", name }, options), "A");
    return r.address;
  }

  /** The network id registered for network name `name`. */
  async lookupN(name: string, options?: CallOptions): Promise<number> {
    return expect(await this.request({ op: "query", type: "N", name }, options), "N").network;
  }

  /** The providers of service (`network`, `port`); empty when none. */
  async lookupS(network: number, port: number, options?: CallOptions): Promise<ServiceRecord[]> {
    return expect(await this.request({ op: "query", type: "S", network, port }, options), "S").services;
  }

  /** Registers (or renews) `name` → `address`, which must be this node's. */
  async registerA(name: string, address: Address | string, options?: CallOptions): Promise<void> {
    const addr = typeof address === "string" ? Address.parse(address) : address;
    expect(await this.request({ op: "register", type: "A", name, address: addr }, options), "OK");
  }

  /** Registers (or renews) network name `name` → `network`. */
  async registerN(name: string, network: number, options?: CallOptions): Promise<void> {
    expect(await this.request({ op: "register", type: "N", name, network }, options), "OK");
  }

  /** Registers (or renews) this node at `address` as a provider of (`network`, `port`) named `name`. */
  async registerS(
    name: string,
    address: Address | string,
    network: number,
    port: number,
    options?: CallOptions,
  ): Promise<void> {
    const addr = typeof address === "string" ? Address.parse(address) : address;
    expect(
      await this.request({ op: "register", type: "S", name, address: addr, network, port }, options),
      "OK",
    );
  }

  /** One raw exchange: the decoded answer, `ERR` included. */
  async request(request: NameserverRequest, options: CallOptions = {}): Promise<NameserverResponse> {
    const io = options.signal || options.timeoutMs !== undefined
      ? options
      : { signal: AbortSignal.timeout(NAMESERVER_TIMEOUT_MS) };
    const conn = await this.#client.dial(this.server, this.#port, io);
    try {
      return await exchangeRequest(conn, request, io);
    } finally {
      await closeQuietly(conn);
    }
  }
}

function expect<K extends NameserverResponse["kind"]>(
  response: NameserverResponse,
  kind: K,
): Extract<NameserverResponse, { kind: K }> {
  if (response.kind === kind) return response as Extract<NameserverResponse, { kind: K }>;
  if (response.kind === "ERR") throw new NameserverRefusedError(response.message);
  throw new NameserverError(`expected a ${kind} answer, got ${response.kind}`);
}
