/**
 * The nameserver (docs/protocol/services.md §8) on overlay port 53: one request per connection. The server
 * reads one chunk (the client writes its request in one write), answers once and closes.
 * A REGISTER is checked against the stream's source node, which the tunnel authenticated, so a
 * node can register only its own address; the rules and limits live in {@link NameRecords}.
 * Records persist to an optional file after every change, and expire after the TTL.
 * @module
 */
import { Logger } from "../../log.ts";
import type { PeerStream } from "../byte_stream.ts";
import {
  decodeRequest,
  encodeResponse,
  NameserverError,
  type NameserverRequest,
  type NameserverResponse,
  quote,
} from "./codec.ts";
import { type NameRecords, RegistrationRefusedError } from "./records.ts";
import type { RecordFile } from "./record_file.ts";
import { closeQuietly } from "../../errors.ts";

/** How long a connection may wait before its request arrives. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Counters of one server. */
export interface NameserverStats {
  queries: number;
  registrations: number;
  /** Registrations the rules or limits refused. */
  refused: number;
  /** Requests that did not parse. */
  malformed: number;
}

/** Options of {@link NameserverServer}. */
export interface NameserverServerOptions {
  records: NameRecords;
  /** Where records persist; none = memory only. */
  file?: RecordFile;
  log?: Logger;
  /** Default {@link REQUEST_TIMEOUT_MS}. */
  requestTimeoutMs?: number;
}

/** Answers nameserver requests from a {@link NameRecords} table. */
export class NameserverServer {
  readonly stats: NameserverStats = { queries: 0, registrations: 0, refused: 0, malformed: 0 };
  readonly records: NameRecords;
  readonly #file?: RecordFile;
  readonly #log: Logger;
  readonly #requestTimeoutMs: number;

  constructor(options: NameserverServerOptions) {
    this.records = options.records;
    this.#file = options.file;
    this.#log = options.log ?? new Logger("nameserver");
    this.#requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  }

  /** Serves one connection: one request, one answer, then close. */
  async handle(stream: PeerStream): Promise<void> {
    try {
      const request = await stream.read({ timeoutMs: this.#requestTimeoutMs });
      if (request === null) return;
      const answer = await this.answer(stream.remoteAddr.node, request);
      await stream.write(encodeResponse(answer), { timeoutMs: this.#requestTimeoutMs });
    } finally {
      await closeQuietly(stream);
    }
  }

  /** The answer to `bytes` sent by node `caller` (REGISTER changes the table and the file first). */
  async answer(caller: number, bytes: Uint8Array): Promise<NameserverResponse> {
    let request: NameserverRequest;
    try {
      request = decodeRequest(bytes);
    } catch (err) {
      if (!(err instanceof NameserverError)) throw err;
      this.stats.malformed++;
      return { kind: "ERR", message: err.message };
    }
    if (request.op === "query") {
      this.stats.queries++;
      return this.#query(request);
    }
    try {
      this.#register(caller, request);
    } catch (err) {
      if (!(err instanceof RegistrationRefusedError)) throw err;
      this.stats.refused++;
      this.#log.info("registration refused", { from: caller, type: request.type, reason: err.message });
      return { kind: "ERR", message: err.message };
    }
    this.stats.registrations++;
    this.#log.debug("record registered", { from: caller, type: request.type, name: request.name });
    await this.save();
    return { kind: "OK" };
  }

  /** Removes expired records and saves the file when any went. */
  async reap(): Promise<void> {
    const removed = this.records.reap();
    if (removed === 0) return;
    this.#log.debug("expired records removed", { removed });
    await this.save();
  }

  /** Writes the file (if any); a failure is logged, the records stay in memory. */
  async save(): Promise<void> {
    if (!this.#file) return;
    try {
      await this.#file.save(() => this.records.snapshot());
    } catch (err) {
      this.#log.warn("saving nameserver records failed", { err });
    }
  }

  #query(request: Extract<NameserverRequest, { op: "query" }>): NameserverResponse {
    switch (request.type) {
      case "A": {
        const address = this.records.lookupA(request.name);
        return address
          ? { kind: "A", name: request.name, address }
          : { kind: "ERR", message: `name ${quote(request.name)} not found` };
      }
      case "N": {
        const network = this.records.lookupN(request.name);
        return network !== undefined
          ? { kind: "N", name: request.name, network }
          : { kind: "ERR", message: `network ${quote(request.name)} not found` };
      }
      case "S":
        return { kind: "S", services: this.records.lookupS(request.network, request.port) };
    }
  }

  #register(caller: number, request: Extract<NameserverRequest, { op: "register" }>): void {
    switch (request.type) {
      case "A":
        return this.records.registerA(caller, request.name, request.address);
      case "N":
        return this.records.registerN(caller, request.name, request.network);
      case "S":
        return this.records.registerS(caller, request.name, request.address, request.network, request.port);
    }
  }
}
