/**
 * Installs the trust handshake in a node (the built-in service "trust"): opens `trust.json` in
 * the state directory, serves port 444, polls the registry relay after every heartbeat and
 * re-reports trust pairs after re-registration. The handle carries the service, which the
 * node's privacy gate, IPC Handshake command and metrics read.
 */
import type { ServiceContext, ServiceHandle } from "../context.ts";
import { TrustService } from "./service.ts";
import { TrustStore } from "./store.ts";

/** A running trust service. */
export interface TrustServiceHandle extends ServiceHandle {
  readonly service: TrustService;
}

/** Options of {@link installTrustService}. */
export interface TrustInstallOptions {
  /** Called whenever a peer's trust changes (the gate drops its cached verdict). */
  onTrustChange?: (node: number) => void;
}

/** Starts the trust service in the node of `ctx`. */
export async function installTrustService(
  ctx: ServiceContext,
  options: TrustInstallOptions = {},
): Promise<TrustServiceHandle> {
  const store = await TrustStore.open(ctx.stateDir, ctx.log.child("trust"));
  const service = new TrustService(ctx, {
    store,
    onTrustChange: options.onTrustChange,
  });
  service.start();
  ctx.lifecycle.afterHeartbeat(() => service.pollRelay());
  ctx.lifecycle.afterReregister(() => service.reReport());
  return { service, stop: () => service.close() };
}
