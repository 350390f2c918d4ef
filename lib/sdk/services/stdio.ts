/**
 * Standard I/O (port 1000, docs/protocol/services.md §4): a convention, not a protocol. No daemon serves it and
 * nothing frames it; raw bytes flow both ways between two applications. These helpers give the
 * port its default and implement the reference CLI's one-message exchanges (`connect`/`send`
 * write one message and read one reply; `recv` accepts a connection and reads one message).
 * @module
 */
import type { Address } from "../../protocol/address.ts";
import { PORT_STDIO } from "../../protocol/ports.ts";
import type { PilotClient } from "../client.ts";
import type { Connection } from "../connection.ts";
import type { Listener } from "../listener.ts";
import type { CallOptions } from "../deadline.ts";
import { closeQuietly } from "../../errors.ts";

/** Most reply bytes a one-message exchange keeps (the reference reads once into 64 KiB − 1). */
export const STDIO_REPLY_LIMIT = 65_535;

/** Options of the stdio helpers. */
export interface StdioOptions extends CallOptions {
  /** Port (default 1000). */
  port?: number;
}

/**
 * Opens a raw stream to `target`'s standard-I/O port (default 1000).
 *
 * @example
 * ```ts
 * import { dialStdio, type PilotClient } from "../../../mod.ts";
 * async function pipeLine(client: PilotClient, peer: string, line: string): Promise<void> {
 *   const conn = await dialStdio(client, peer, { timeoutMs: 30_000 });
 *   await conn.write(new TextEncoder().encode(line + "\n"));
 *   await conn.close();
 * }
 * console.assert(typeof pipeLine === "function");
 * ```
 */
export function dialStdio(
  client: PilotClient,
  target: Address | string,
  options: StdioOptions = {},
): Promise<Connection> {
  return client.dial(target, options.port ?? PORT_STDIO, options);
}

/**
 * Binds the standard-I/O port (default 1000) for incoming raw streams.
 *
 * @example
 * ```ts
 * import { listenStdio, type PilotClient } from "../../../mod.ts";
 * // Prints what each caller sends to this node's port 1000.
 * async function printIncoming(client: PilotClient): Promise<void> {
 *   const listener = await listenStdio(client);
 *   for await (const conn of listener) {
 *     for await (const chunk of conn.readable) console.log(new TextDecoder().decode(chunk));
 *   }
 * }
 * console.assert(typeof printIncoming === "function");
 * ```
 */
export function listenStdio(client: PilotClient, options: StdioOptions = {}): Promise<Listener> {
  return client.listen(options.port ?? PORT_STDIO, options);
}

/**
 * Dials, writes `message`, reads one chunk (cut to {@link STDIO_REPLY_LIMIT}), closes. Resolves
 * with the reply, empty when the peer closed without answering.
 *
 * @example
 * ```ts
 * import { exchangeMessage, type PilotClient } from "../../../mod.ts";
 * async function ask(client: PilotClient, peer: string, question: string): Promise<string> {
 *   const reply = await exchangeMessage(client, peer, new TextEncoder().encode(question), { timeoutMs: 30_000 });
 *   return new TextDecoder().decode(reply);
 * }
 * console.assert(typeof ask === "function");
 * ```
 */
export async function exchangeMessage(
  client: PilotClient,
  target: Address | string,
  message: Uint8Array,
  options: StdioOptions = {},
): Promise<Uint8Array> {
  const conn = await dialStdio(client, target, options);
  try {
    await conn.write(message, options);
    const reply = await conn.read(options);
    return reply === null ? new Uint8Array(0) : reply.subarray(0, STDIO_REPLY_LIMIT);
  } finally {
    await closeQuietly(conn);
  }
}

/** One message received by {@link receiveMessage}. */
export interface ReceivedMessage {
  remoteAddr: Address;
  remotePort: number;
  data: Uint8Array;
}

/** Accepts one connection on `listener`, reads one chunk from it and closes it. */
export async function receiveMessage(
  listener: Listener,
  options: CallOptions = {},
): Promise<ReceivedMessage> {
  const conn = await listener.accept(options);
  try {
    const data = await conn.read(options);
    return { remoteAddr: conn.remoteAddr, remotePort: conn.remotePort, data: data ?? new Uint8Array(0) };
  } finally {
    await closeQuietly(conn);
  }
}
