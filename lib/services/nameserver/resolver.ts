/**
 * Hostname resolution through a nameserver, for a node configured with one: `QUERY A <name>` to
 * the nameserver's port 53 over a stream the caller opens (inside the daemon, its dialer).
 * @module
 */
import type { Address } from "../../protocol/address.ts";
import { PORT_NAMESERVER } from "../../protocol/ports.ts";
import type { ByteStream } from "../byte_stream.ts";
import { NameserverError } from "./codec.ts";
import { exchangeRequest } from "./exchange.ts";
import { closeQuietly } from "../../errors.ts";

/** How long one lookup may take, dial included. */
export const LOOKUP_TIMEOUT_MS = 5_000;

/** Opens a stream to `node`:`port` (the daemon's dialer). */
export type NameserverDial = (
  node: number,
  port: number,
  options: { timeoutMs: number; signal: AbortSignal },
) => Promise<ByteStream>;

/**
 * The address the nameserver at `server` holds for `name`. Throws {@link NameserverError} with
 * the server's text when it has none; dial and I/O errors as they come.
 */
export async function lookupAddress(
  dial: NameserverDial,
  server: Address,
  name: string,
  timeoutMs = LOOKUP_TIMEOUT_MS,
): Promise<Address> {
  const signal = AbortSignal.timeout(timeoutMs);
  const stream = await dial(server.node, PORT_NAMESERVER, { timeoutMs, signal });
  try {
    const answer = await exchangeRequest(stream, { op: "query", type: "A", name }, { signal });
    if (answer.kind === "A") return answer.address;
    throw new NameserverError(answer.kind === "ERR" ? answer.message : `unexpected ${answer.kind} answer`);
  } finally {
    await closeQuietly(stream);
  }
}
