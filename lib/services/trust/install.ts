/**
 * Plugs the trust handshake into a running daemon (the BUILTIN_SERVICES entry "trust"):
 * opens `trust.json` beside the identity file, serves port 444, exposes the service as
 * `daemon.trust` (read by the privacy gate and the IPC handler), polls the registry
 * relay after every heartbeat and re-reports trust pairs after re-registration.
 */
import { dirname } from "node:path";
import type { Daemon } from "../../daemon/daemon.ts";
import { TrustService } from "./service.ts";
import { TrustStore } from "./store.ts";

/** Starts the trust service on `daemon`; resolves to its stop function. */
export async function installTrustService(daemon: Daemon): Promise<() => Promise<void>> {
  const log = daemon.log.child("trust");
  const store = await TrustStore.open(dirname(daemon.identity.path), log);
  const service = new TrustService(daemon, {
    store,
    onTrustChange: (node) => daemon.gate.invalidate(node),
  });
  service.start();
  daemon.trust = service;
  daemon.afterHeartbeat.push(() => service.pollRelay());
  daemon.afterReregister.push(() => service.reReport());
  return async () => {
    await service.close();
  };
}
