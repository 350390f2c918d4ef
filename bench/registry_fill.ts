/** Fills a registry with unsigned nodes, shared by the registry benches. */
import { toBase64 } from "../lib/bytes.ts";
import { RegistryClient } from "../lib/registry/client.ts";

/** Connections the fill spreads its registrations over. */
const FILL_CONNECTIONS = 50;

/** Registers `nodes` unsigned nodes (the registry runs in reference mode) over 50 connections; seconds taken. */
export async function fillRegistry(address: string, nodes: number): Promise<number> {
  const clients = Array.from(
    { length: FILL_CONNECTIONS },
    () => new RegistryClient({ address, timeoutMs: 60_000 }),
  );
  let next = 0;
  const t0 = performance.now();
  try {
    await Promise.all(clients.map(async (c) => {
      while (next < nodes) {
        next++;
        // Reference mode takes unsigned registrations; any 32 bytes pass its length check.
        await c.request({
          type: "register",
          public_key: toBase64(crypto.getRandomValues(new Uint8Array(32))),
          listen_addr: ":7000",
          lan_addrs: ["192.168.1.20:7000"],
        });
      }
    }));
  } finally {
    for (const c of clients) c.close();
  }
  return (performance.now() - t0) / 1000;
}
