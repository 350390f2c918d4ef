/**
 * The services the daemon runs itself, each installed once the daemon is registered and
 * its session layer is up. An installer returns a stop function. To add a built-in
 * service, add it to {@link BUILTIN_SERVICES} (services.md §0 lists which ports run here).
 */
import type { Daemon } from "./daemon.ts";
import { PORT_ECHO } from "../protocol/ports.ts";
import { startEchoService } from "../services/echo.ts";
import { installTrustService } from "../services/trust/install.ts";
import { installTaskService } from "../services/tasks/install.ts";
import { installDataExchangeService } from "../services/dataexchange/install.ts";
import { installEventStreamService } from "../services/eventstream/install.ts";

/** A built-in service. */
export interface DaemonService {
  /** Name used in logs and in the config's disable list (e.g. "echo"). */
  name: string;
  /** Starts the service; the result stops it. */
  install(daemon: Daemon): (() => void | Promise<void>) | Promise<() => void | Promise<void>>;
}

/**
 * Built-in services in start order. Trust comes first: until its store (with the deny set)
 * is loaded no port is bound, so no peer can slip past a revocation during start-up.
 */
export const BUILTIN_SERVICES: readonly DaemonService[] = [
  { name: "trust", install: (d) => installTrustService(d) },
  { name: "echo", install: (d) => startEchoService(d.manager, PORT_ECHO) },
  { name: "dataexchange", install: (d) => installDataExchangeService(d) },
  { name: "eventstream", install: (d) => installEventStreamService(d) },
  { name: "tasksubmit", install: (d) => installTaskService(d) },
];
