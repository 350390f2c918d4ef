/**
 * Task submission (port 1003): the wire codec, task files, the polo reward, the
 * daemon-side service (the daemon installs it; the client operations behind `pilot task`
 * are in lib/sdk/services/tasks.ts).
 * @module
 */
export * from "./codec.ts";
export * from "./record.ts";
export { poloReward, type TaskTimes } from "./reward.ts";
export { type TaskBox, TaskStore, TaskStoreError } from "./store.ts";
export {
  readTaskFrame,
  sendStatusUpdate,
  sendTaskResults,
  submitTask,
  TASK_IO_TIMEOUT_MS,
  TaskProtocolError,
} from "./protocol.ts";
export { TaskService, type TaskServiceHost, type TaskServiceOptions } from "./service.ts";
