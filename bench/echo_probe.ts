/**
 * What the connection benches share: the echo port, how far apart dials go, the 64-byte probe, one
 * request/response over an open connection, and one dial (+ echo) + close.
 */
import type { PilotClient } from "../lib/sdk/core.ts";

/** The echo service's port (docs/protocol/services.md). */
export const ECHO_PORT = 7;
/** Dials this far apart stay under the per-source SYN limit of 10 a second (docs/protocol/transport.md §9). */
export const DIAL_SPACING_MS = 110;
/** The probe the benches echo: 64 bytes. */
export const ECHO_PROBE: Uint8Array = new Uint8Array(64).fill(0x61);

/** What the probe needs of a connection (an SDK Connection). */
interface EchoConnection {
  write(data: Uint8Array): Promise<unknown>;
  read(): Promise<Uint8Array | null>;
}

/** Writes `probe` and reads until as many bytes came back; milliseconds taken. */
export async function echoRoundTrip(conn: EchoConnection, probe: Uint8Array): Promise<number> {
  const t0 = performance.now();
  await conn.write(probe);
  for (let got = 0; got < probe.length;) {
    const d = await conn.read();
    if (d === null) throw new Error("echo ended");
    got += d.length;
  }
  return performance.now() - t0;
}

/** Dials `address`'s echo port from `client`, echoes `probe` unless it is null, and closes. */
export async function dialEchoClose(
  client: PilotClient,
  address: string,
  probe: Uint8Array | null = ECHO_PROBE,
): Promise<void> {
  const conn = await client.dial(address, ECHO_PORT, { timeoutMs: 10_000 });
  if (probe !== null) await echoRoundTrip(conn, probe);
  await conn.close();
}
