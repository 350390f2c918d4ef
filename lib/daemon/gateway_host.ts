/**
 * The gateway and exposed ports inside a daemon: exposed ports always (their table may be
 * empty), the gateway when the daemon was started with one (`pilot daemon --gateway`), and the
 * control socket `<ipc socket>.gateway` through which the CLI changes both at once.
 * Connections dial through the daemon's one dialer and are reported to its webhooks.
 */
import type { Logger } from "../log.ts";
import { Address, AddressError, parseAddressOrNodeId } from "../protocol/address.ts";
import type { MetricFamily } from "../http/prometheus.ts";
import type { Dialer } from "./dialer.ts";
import type { SessionManager } from "../transport/manager.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { Gateway, GatewayEvents } from "../gateway/gateway.ts";
import { ExposedPorts } from "../gateway/expose.ts";
import { overlayFromStream } from "../gateway/overlay.ts";
import {
  ControlError,
  type ControlHandler,
  type ControlServer,
  daemonControlPath,
  serveControl,
} from "../gateway/control.ts";
import { parseSubnet } from "../gateway/subnet.ts";
import type { InfoReply } from "../ipc/replies.ts";

/** The daemon's gateway settings (`--gateway`, `--gateway-subnet`, `--gateway-ports`). */
export interface DaemonGatewayConfig {
  subnet: string;
  ports: number[];
}

/** What the host needs from the daemon. */
export interface GatewayHostDeps {
  socketPath: string;
  stateDir: string;
  gateway?: DaemonGatewayConfig;
  dialer: Pick<Dialer, "dial">;
  sessions: Pick<SessionManager, "listen" | "unlisten">;
  registry: Pick<RegistryClient, "resolveHostname">;
  log: Logger;
  events: GatewayEvents;
}

/** The running gateway parts of a daemon. */
export interface GatewayHost {
  readonly gateway?: Gateway;
  readonly exposed: ExposedPorts;
  /** `/status` fields. */
  status(): Pick<InfoReply, "exposed" | "gateway">;
  metrics(): MetricFamily[];
  close(): Promise<void>;
}

/** Address text, node id, or a hostname the registry knows → address. */
export function registryResolver(registry: Pick<RegistryClient, "resolveHostname">) {
  return async (text: string): Promise<Address> => {
    try {
      return parseAddressOrNodeId(text);
    } catch (err) {
      if (!(err instanceof AddressError)) throw err;
    }
    try {
      const reply = await registry.resolveHostname(text);
      return new Address(0, Number(reply.node_id));
    } catch (err) {
      throw new ControlError(
        "not_found",
        `cannot resolve "${text}": ${err instanceof Error ? err.message : err}`,
      );
    }
  };
}

/** Starts exposed ports, the gateway (when configured) and the control socket. */
export async function startGatewayHost(deps: GatewayHostDeps): Promise<GatewayHost> {
  const log = deps.log.child("gateway");
  const exposed = await ExposedPorts.start({
    sessions: deps.sessions,
    stateDir: deps.stateDir,
    log,
    events: deps.events,
  });
  let gateway: Gateway | undefined;
  let control: ControlServer | undefined;
  try {
    if (deps.gateway) {
      // Loaded only here: a daemon without --gateway keeps the gateway's code out of memory.
      const [{ Gateway }, { systemAliases }] = await Promise.all([
        import("../gateway/gateway.ts"),
        import("../gateway/alias.ts"),
      ]);
      gateway = await Gateway.start({
        subnet: parseSubnet(deps.gateway.subnet),
        ports: deps.gateway.ports,
        stateDir: deps.stateDir,
        dial: async (addr, port, signal) =>
          overlayFromStream(await deps.dialer.dial(addr.node, port, { signal })),
        resolve: registryResolver(deps.registry),
        aliases: systemAliases(log),
        log,
        events: deps.events,
      });
    }
    control = await serveControl(daemonControlPath(deps.socketPath), controlHandler(gateway, exposed), log);
  } catch (err) {
    await gateway?.close();
    await exposed.close();
    throw err;
  }
  return {
    gateway,
    exposed,
    status: () => ({
      exposed: exposed.list().map((e) => ({ port: e.port, target: e.target, active: e.active })),
      ...(gateway
        ? { gateway: { subnet: gateway.subnet.text, ports: [...gateway.ports], mappings: gateway.list() } }
        : {}),
    }),
    metrics: () => [...(gateway?.metrics() ?? []), ...exposed.metrics()],
    async close() {
      await control?.close();
      await gateway?.close();
      await exposed.close();
    },
  };
}

/** Answers control requests with `gateway` (when running here) and `exposed`. */
export function controlHandler(
  gateway: Gateway | undefined,
  exposed: ExposedPorts | undefined,
): ControlHandler {
  const needGateway = () => {
    if (!gateway) {
      throw new ControlError(
        "not_running",
        "the gateway is not running (start the daemon with --gateway, or run `pilot gateway start`)",
      );
    }
    return gateway;
  };
  const needExposed = () => {
    if (!exposed) {
      throw new ControlError(
        "invalid_argument",
        "exposed ports live in the daemon, not in a standalone gateway",
      );
    }
    return exposed;
  };
  return async (req) => {
    switch (req.op) {
      case "map":
        return await needGateway().map(req.addr, req.ip);
      case "unmap":
        return { unmapped: (await needGateway().unmap(req.ip)).local_ip };
      case "list": {
        const g = needGateway();
        const mappings = g.list();
        return { subnet: g.subnet.text, ports: g.ports, mappings, total: mappings.length };
      }
      case "expose":
        return await needExposed().expose(req.port, req.target);
      case "unexpose":
        return { unexposed: (await needExposed().unexpose(req.port)).port };
      case "exposed": {
        const list = needExposed().list();
        return { exposed: list, total: list.length };
      }
    }
  };
}
