/** One request/response probe over an open connection to the echo port, shared by the latency benches. */

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
