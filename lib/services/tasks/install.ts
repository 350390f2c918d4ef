/**
 * Plugs the task service into a running daemon (the BUILTIN_SERVICES entry "tasksubmit"):
 * the daemon's session layer, registry session, state directory and logger, plus a dialer
 * that reaches a peer's task port through the daemon's own tunnel.
 */
import type { Daemon } from "../../daemon/daemon.ts";
import { Address } from "../../protocol/address.ts";
import { streamFromTransport } from "../byte_stream.ts";
import { TaskService, type TaskServiceOptions } from "./service.ts";

/** How long the daemon waits for a submitter's task port when notifying it. */
export const NOTIFY_DIAL_TIMEOUT_MS = 15_000;

/** Starts the task service on `daemon`; resolves to its stop function. */
export async function installTaskService(
  daemon: Daemon,
  options: TaskServiceOptions = {},
): Promise<() => Promise<void>> {
  const svc = await TaskService.start({
    manager: daemon.manager,
    registry: daemon.registry,
    nodeId: () => daemon.nodeId,
    stateDir: daemon.config.stateDir,
    log: daemon.log.child("tasks"),
    dial: async (node, port) => {
      await daemon.peers.ensure(node);
      const stream = daemon.manager.dial(new Address(0, node), port);
      const opened = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          stream.abort();
          reject(new Error(`dial ${node}:${port} timed out`));
        }, NOTIFY_DIAL_TIMEOUT_MS);
        stream.onOpen = () => {
          clearTimeout(timer);
          resolve();
        };
        stream.onClose = (reason) => {
          clearTimeout(timer);
          reject(new Error(`dial ${node}:${port} failed: ${reason}`));
        };
      });
      await opened;
      stream.onOpen = stream.onClose = undefined;
      return streamFromTransport(stream);
    },
  }, options);
  daemon.tasks = svc;
  return async () => {
    await svc.stop();
    if (daemon.tasks === svc) daemon.tasks = undefined;
  };
}
