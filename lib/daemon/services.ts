/**
 * The services the daemon runs itself, each installed with the daemon's service context once
 * the node is registered and its session layer is up. To add a built-in service, add it to
 * {@link BUILTIN_SERVICES} (docs/protocol/services.md §0 lists which ports run here); when the daemon needs
 * something from it (as the gate needs the trust service), return it in the handle and give
 * {@link BuiltinServices} a field for it.
 */
import { PORT_ECHO } from "../protocol/ports.ts";
import type { ServiceContext, ServiceHandle } from "../services/context.ts";
import { startEchoService } from "../services/echo.ts";
import type { TrustService } from "../services/trust/service.ts";
import type { TaskService } from "../services/tasks/service.ts";
import type { NameserverServiceOptions } from "../services/nameserver/install.ts";

/** What the daemon hands the installers besides the context. */
export interface BuiltinOptions {
  /** The trust service reports a peer whose trust changed (the gate drops its cached verdict). */
  onTrustChange(node: number): void;
  /** Serve the nameserver (port 53) with these options; unset = not served. */
  nameserver?: NameserverServiceOptions;
}

/** The running built-in services the daemon reads. */
export interface BuiltinServices {
  /** The trust handshake (port 444), unless disabled. */
  readonly trust?: TrustService;
  /** The task service (port 1003), unless disabled. */
  readonly tasks?: TaskService;
  /** Stops every installed service, the last installed first. */
  stop(): Promise<void>;
}

/** A built-in service. */
export interface DaemonService {
  /** Name used in logs and in the config's disable list (e.g. "echo"). */
  name: string;
  /** Starts the service; the handle stops it and may carry a part the daemon reads. */
  install(
    ctx: ServiceContext,
    options: BuiltinOptions,
  ): Promise<ServiceHandle & { trust?: TrustService; tasks?: TaskService }>;
}

/**
 * Built-in services in start order. Trust comes first: until its store (with the deny set)
 * is loaded no port is bound, so no peer can slip past a revocation during start-up. Each
 * installer's module is imported when the service is installed, so a disabled service (and the
 * nameserver, unless configured) costs the daemon no memory for its code.
 */
export const BUILTIN_SERVICES: readonly DaemonService[] = [
  {
    name: "trust",
    install: async (ctx, o) => {
      const { installTrustService } = await import("../services/trust/install.ts");
      const h = await installTrustService(ctx, { onTrustChange: o.onTrustChange });
      return { stop: h.stop, trust: h.service };
    },
  },
  { name: "echo", install: (ctx) => Promise.resolve({ stop: startEchoService(ctx.sessions, PORT_ECHO) }) },
  {
    name: "dataexchange",
    install: async (ctx) =>
      (await import("../services/dataexchange/install.ts")).installDataExchangeService(ctx),
  },
  {
    name: "eventstream",
    install: async (ctx) =>
      (await import("../services/eventstream/install.ts")).installEventStreamService(ctx),
  },
  {
    name: "tasksubmit",
    install: async (ctx) => {
      const { installTaskService } = await import("../services/tasks/install.ts");
      const h = await installTaskService(ctx);
      return { stop: h.stop, tasks: h.service };
    },
  },
  // Opt-in: runs only when the node was started as a nameserver.
  {
    name: "nameserver",
    install: async (ctx, o) =>
      o.nameserver
        ? (await import("../services/nameserver/install.ts")).installNameserverService(ctx, o.nameserver)
        : { stop() {} },
  },
];

/**
 * Installs the built-in services not named in `disabled`, in order. When one fails, those
 * already running are stopped and the error is thrown.
 */
export async function installBuiltinServices(
  ctx: ServiceContext,
  disabled: readonly string[],
  options: BuiltinOptions,
): Promise<BuiltinServices> {
  const handles: ServiceHandle[] = [];
  let trust: TrustService | undefined;
  let tasks: TaskService | undefined;
  const stop = async () => {
    for (const h of handles.splice(0).reverse()) {
      try {
        await h.stop();
      } catch (err) {
        ctx.log.warn("service stop failed", { err });
      }
    }
  };
  try {
    for (const service of BUILTIN_SERVICES) {
      if (disabled.includes(service.name)) continue;
      const h = await service.install(ctx, options);
      handles.push(h);
      trust ??= h.trust;
      tasks ??= h.tasks;
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { trust, tasks, stop };
}
