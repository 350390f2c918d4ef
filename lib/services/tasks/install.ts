/**
 * Installs the task service in a node (the built-in service "tasksubmit"): its session layer,
 * registry session, state directory, logger and dialer (a dropped task's submitter is told
 * through the node's one dialer, so it crosses NATs like any other dial). The handle carries
 * the service, whose counters the node's metrics read.
 */
import type { ServiceContext, ServiceHandle } from "../context.ts";
import { TaskService, type TaskServiceOptions } from "./service.ts";

export { NOTIFY_DIAL_TIMEOUT_MS } from "./service.ts";

/** A running task service. */
export interface TaskServiceHandle extends ServiceHandle {
  readonly service: TaskService;
}

/** Starts the task service in the node of `ctx`. */
export async function installTaskService(
  ctx: ServiceContext,
  options: TaskServiceOptions = {},
): Promise<TaskServiceHandle> {
  const service = await TaskService.start({
    sessions: ctx.sessions,
    registry: ctx.registry,
    nodeId: () => ctx.nodeId(),
    stateDir: ctx.stateDir,
    log: ctx.log.child("tasks"),
    dial: (node, port, opts) => ctx.dial(node, port, opts),
  }, options);
  return { service, stop: () => service.stop() };
}
