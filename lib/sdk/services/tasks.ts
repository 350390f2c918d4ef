/**
 * The local side of task submission, as `pilot task …` runs it (docs/protocol/cli.md §4.5): submit a
 * task to a worker, and — as a worker — accept, decline, execute and answer received
 * tasks, telling the submitter over its port 1003. Task files are changed through
 * {@link TaskStore}, so the daemon sees every change and keeps its queue in step.
 */
import { closeQuietly, errorMessage, PilotError } from "../../errors.ts";
import { toBase64, utf8 } from "../../bytes.ts";
import { Address } from "../../protocol/address.ts";
import { PORT_TASKS } from "../../protocol/ports.ts";
import type { ByteStream } from "../../services/byte_stream_shape.ts";
import {
  newTaskId,
  type SendResults,
  type StatusUpdate,
  SUBMIT_ACCEPTED,
} from "../../services/tasks/codec.ts";
import {
  sendStatusUpdate,
  sendTaskResults,
  submitTask,
  TASK_IO_TIMEOUT_MS,
} from "../../services/tasks/protocol.ts";
import {
  elapsedMs,
  JUSTIFICATION,
  parseTime,
  rfc3339,
  type TaskRecord,
  type TaskStatus,
} from "../../services/tasks/record.ts";
import type { TaskBox, TaskStore } from "../../services/tasks/store.ts";
import { ACCEPT_WINDOW_MS } from "../../services/tasks/record.ts";

/** Result file extensions a worker may send (docs/protocol/services.md §7.2); anything else is refused. */
export const RESULT_EXTENSIONS: readonly string[] = [
  ".md",
  ".txt",
  ".rtf",
  ".docx",
  ".pdf",
  ".pptx",
  ".pth",
  ".pt",
  ".onnx",
  ".h5",
  ".pb",
  ".ckpt",
  ".safetensors",
  ".bin",
  ".csv",
  ".parquet",
  ".xlsx",
  ".xls",
  ".jpg",
  ".jpeg",
  ".png",
  ".svg",
  ".gif",
  ".webp",
];

/** Largest result file: what fits one frame once base64-encoded (with room for the JSON around it). */
export const MAX_RESULT_FILE_BYTES = 12 * 1024 * 1024;

/** The CLI error code a task failure maps to (docs/protocol/cli.md §2). */
export type TaskErrorCode =
  | "invalid_argument"
  | "not_found"
  | "invalid_state"
  | "expired"
  | "connection_failed"
  | "internal_error";

/**
 * A task operation was refused or failed; `code` is the CLI error code.
 *
 * @example
 * ```ts
 * import { TaskError } from "../../../mod.ts";
 * const err = new TaskError("not_found", "no task abc");
 * console.assert(err.code === "not_found" && err.message === "no task abc");
 * ```
 */
export class TaskError extends PilotError {
  constructor(readonly code: TaskErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** What the client needs: the task files, a way to reach peers, and this node's address. */
export interface TaskClientOptions {
  store: TaskStore;
  /** Opens a stream to `addr:port` (through the local daemon). */
  dial(addr: Address, port: number): Promise<ByteStream>;
  /** This node's address text (the submitter's `from_addr`). */
  self?: string;
  timeoutMs?: number;
  acceptWindowMs?: number;
  now?: () => number;
}

/** `task submit` result keys. */
export interface SubmitOutcome {
  target: string;
  task_id: string;
  task: string;
  status: number;
  message: string;
  accepted: boolean;
}

/** One row of `task list`. */
export interface TaskSummary {
  task_id: string;
  description: string;
  status: TaskStatus;
  from: string;
  to: string;
  created_at: string;
  category: TaskBox;
}

/**
 * Task operations of one node.
 *
 * @example
 * ```ts
 * import { Address, connect, TaskClient } from "../../../mod.ts";
 * import { TaskStore } from "../../services/tasks/store.ts";
 * // Submits a task to a worker through the local daemon, as `pilot task submit` does.
 * async function submit(stateDir: string, worker: string, description: string): Promise<boolean> {
 *   await using client = await connect();
 *   const self = (await client.info()).address;
 *   const tasks = new TaskClient({
 *     store: new TaskStore(stateDir),
 *     dial: (addr, port) => client.dial(addr, port, { timeoutMs: 30_000 }),
 *     self,
 *   });
 *   const outcome = await tasks.submit(Address.parse(worker), description);
 *   return outcome.accepted;
 * }
 * console.assert(typeof submit === "function");
 * ```
 */
export class TaskClient {
  readonly store: TaskStore;
  readonly #opts: TaskClientOptions;
  readonly #timeoutMs: number;
  readonly #acceptWindowMs: number;
  readonly #now: () => number;

  constructor(options: TaskClientOptions) {
    this.store = options.store;
    this.#opts = options;
    this.#timeoutMs = options.timeoutMs ?? TASK_IO_TIMEOUT_MS;
    this.#acceptWindowMs = options.acceptWindowMs ?? ACCEPT_WINDOW_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Sends a task to `target`; on acceptance records it under `submitted/`. */
  async submit(target: Address, description: string): Promise<SubmitOutcome> {
    if (!description.trim()) throw new TaskError("invalid_argument", "the task description is empty");
    const self = this.#opts.self ?? "";
    const to = new Address(0, target.node).toString();
    const taskId = newTaskId();
    const reply = await this.#withStream(
      target,
      (s) =>
        submitTask(
          s,
          { task_id: taskId, task_description: description, from_addr: self, to_addr: to },
          this.#timeoutMs,
        ),
    );
    const accepted = reply.status === SUBMIT_ACCEPTED;
    if (accepted) {
      await this.#io(() =>
        this.store.create("submitted", {
          task_id: taskId,
          task_description: description,
          created_at: rfc3339(this.#now()),
          status: "NEW",
          status_justification: JUSTIFICATION.created,
          from: self,
          to,
        })
      );
    }
    return {
      target: to,
      task_id: taskId,
      task: description,
      status: reply.status,
      message: reply.message,
      accepted,
    };
  }

  /** Accepts a received task (NEW, within the accept window) and tells the submitter. */
  async accept(id: string): Promise<{ task_id: string; status: "ACCEPTED"; message: string }> {
    const now = this.#now();
    const rec = await this.#change(id, (r) => {
      if (r.status !== "NEW") throw new TaskError("invalid_state", `task ${id} is ${r.status}, not NEW`);
      if (now - parseTime(r.created_at) > this.#acceptWindowMs) {
        throw new TaskError(
          "expired",
          `task ${id} can no longer be accepted (more than ${this.#acceptWindowMs / 1000} s old)`,
        );
      }
      return {
        ...r,
        status: "ACCEPTED",
        status_justification: JUSTIFICATION.accepted,
        accepted_at: rfc3339(now),
        time_idle_ms: elapsedMs(r.created_at, now),
      };
    });
    const told = await this.#tell(rec, JUSTIFICATION.accepted);
    return {
      task_id: id,
      status: "ACCEPTED",
      message: told ? "Task accepted" : "Task accepted (submitter notification failed)",
    };
  }

  /** Declines a received task (NEW only) with a reason and tells the submitter. */
  async decline(
    id: string,
    justification: string,
  ): Promise<{ task_id: string; status: "DECLINED"; justification: string; message: string }> {
    if (!justification.trim()) throw new TaskError("invalid_argument", "a justification is required");
    const now = this.#now();
    const rec = await this.#change(id, (r) => {
      if (r.status !== "NEW") throw new TaskError("invalid_state", `task ${id} is ${r.status}, not NEW`);
      return {
        ...r,
        status: "DECLINED",
        status_justification: justification,
        time_idle_ms: elapsedMs(r.created_at, now),
      };
    });
    const told = await this.#tell(rec, justification);
    return {
      task_id: id,
      status: "DECLINED",
      justification,
      message: told ? "Task declined" : "Task declined (submitter notification failed)",
    };
  }

  /** Starts the oldest ACCEPTED task (queue order) and tells the submitter. */
  async execute(): Promise<{ task_id: string; task_description: string; status: "EXECUTING"; from: string }> {
    for (const candidate of await this.#io(() => this.store.list("received"))) {
      if (candidate.status !== "ACCEPTED") continue;
      const now = this.#now();
      let rec: TaskRecord;
      try {
        rec = await this.#change(candidate.task_id, (r) => {
          if (r.status !== "ACCEPTED") throw new TaskError("invalid_state", "taken meanwhile");
          return {
            ...r,
            status: "EXECUTING",
            status_justification: JUSTIFICATION.executing,
            execute_started_at: rfc3339(now),
            // The daemon stamps staged_at when the task reaches the head of its queue.
            time_staged_ms: elapsedMs(r.staged_at, now),
          };
        });
      } catch (err) {
        if (err instanceof TaskError && err.code === "invalid_state") continue;
        throw err;
      }
      await this.#tell(rec, JUSTIFICATION.executing);
      return {
        task_id: rec.task_id,
        task_description: rec.task_description,
        status: "EXECUTING",
        from: rec.from,
      };
    }
    throw new TaskError("not_found", "no accepted task to execute");
  }

  /**
   * Sends the results of a task (EXECUTING or ACCEPTED) to its submitter: text, or a
   * file whose extension is allow-listed. The task becomes SUCCEEDED only once the
   * results went out, so a failed send can be retried.
   */
  async sendResults(
    id: string,
    result: { text: string } | { file: string },
  ): Promise<Record<string, unknown>> {
    const current = await this.#io(() => this.store.read("received", id));
    if (!current) throw new TaskError("not_found", `no received task ${id}`);
    if (current.status !== "EXECUTING" && current.status !== "ACCEPTED") {
      throw new TaskError("invalid_state", `task ${id} is ${current.status}, not EXECUTING or ACCEPTED`);
    }
    const now = this.#now();
    const msg: SendResults = {
      task_id: id,
      result_type: "text",
      completed_at: rfc3339(now),
      time_idle_ms: current.time_idle_ms,
      time_staged_ms: current.time_staged_ms,
      time_cpu_ms: elapsedMs(current.execute_started_at, now),
    };
    const out: Record<string, unknown> = { task_id: id, status: "SUCCEEDED", sent_to: current.from };
    if ("file" in result) {
      const name = result.file.split(/[\\/]/).pop() ?? "";
      const dot = name.lastIndexOf(".");
      const ext = dot >= 0 ? name.slice(dot).toLowerCase() : "";
      if (!RESULT_EXTENSIONS.includes(ext)) {
        throw new TaskError(
          "invalid_argument",
          `result files must have one of the extensions ${RESULT_EXTENSIONS.join(" ")} (got "${name}")`,
        );
      }
      let data: Uint8Array;
      try {
        data = await Deno.readFile(result.file);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) throw new TaskError("not_found", `no file ${result.file}`);
        throw new TaskError("internal_error", `cannot read ${result.file}: ${errorMessage(err)}`, {
          cause: err,
        });
      }
      if (data.length > MAX_RESULT_FILE_BYTES) {
        throw new TaskError("invalid_argument", `result file exceeds ${MAX_RESULT_FILE_BYTES} bytes`);
      }
      msg.result_type = "file";
      msg.filename = name;
      msg.file_data = toBase64(data);
      Object.assign(out, { sent_type: "file", filename: name, file_size: data.length });
    } else {
      msg.result_text = result.text;
      out.sent_type = "text";
      if (!utf8(result.text).length) throw new TaskError("invalid_argument", "the result text is empty");
    }
    const follow: StatusUpdate = { task_id: id, status: "SUCCEEDED", justification: JUSTIFICATION.succeeded };
    await this.#withStream(submitterOf(current), (s) => sendTaskResults(s, msg, follow, this.#timeoutMs));
    await this.#change(id, (r) => ({
      ...r,
      status: "SUCCEEDED",
      status_justification: JUSTIFICATION.succeeded,
      completed_at: msg.completed_at,
      time_cpu_ms: msg.time_cpu_ms,
    }));
    return out;
  }

  /** Received and/or submitted tasks, oldest first. */
  async list(box?: TaskBox): Promise<TaskSummary[]> {
    const boxes: TaskBox[] = box ? [box] : ["received", "submitted"];
    const out: TaskSummary[] = [];
    for (const b of boxes) {
      for (const r of await this.#io(() => this.store.list(b))) {
        out.push({
          task_id: r.task_id,
          description: r.task_description,
          status: r.status,
          from: r.from,
          to: r.to,
          created_at: r.created_at,
          category: b,
        });
      }
    }
    return out;
  }

  /** Accepted received tasks waiting to be executed, oldest first. */
  async queue(): Promise<{ task_id: string; description: string; from: string; created_at: string }[]> {
    return (await this.#io(() => this.store.list("received")))
      .filter((r) => r.status === "ACCEPTED")
      .map((r) => ({
        task_id: r.task_id,
        description: r.task_description,
        from: r.from,
        created_at: r.created_at,
      }));
  }

  /** Locked change of a received task; TaskError not_found if it does not exist. */
  async #change(id: string, fn: (r: TaskRecord) => TaskRecord): Promise<TaskRecord> {
    const rec = await this.#io(() => this.store.update("received", id, fn));
    if (!rec) throw new TaskError("not_found", `no received task ${id}`);
    return rec;
  }

  /** Best-effort STATUS_UPDATE to the task's submitter; false if it could not be delivered. */
  async #tell(rec: TaskRecord, justification: string): Promise<boolean> {
    try {
      await this.#withStream(
        submitterOf(rec),
        (s) =>
          sendStatusUpdate(s, { task_id: rec.task_id, status: rec.status, justification }, this.#timeoutMs),
      );
      return true;
    } catch {
      return false;
    }
  }

  async #withStream<T>(addr: Address, fn: (s: ByteStream) => Promise<T>): Promise<T> {
    let stream: ByteStream;
    try {
      stream = await this.#opts.dial(addr, PORT_TASKS);
    } catch (err) {
      if (err instanceof TaskError) throw err;
      throw new TaskError("connection_failed", `cannot reach ${addr}:${PORT_TASKS}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    try {
      return await fn(stream);
    } catch (err) {
      if (err instanceof TaskError) throw err;
      throw new TaskError("connection_failed", `task exchange with ${addr} failed: ${errorMessage(err)}`, {
        cause: err,
      });
    } finally {
      await closeQuietly(stream);
    }
  }

  /** Runs a file operation, mapping non-task failures to internal_error. */
  async #io<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TaskError) throw err;
      throw new TaskError("internal_error", errorMessage(err), { cause: err });
    }
  }
}

function submitterOf(rec: TaskRecord): Address {
  try {
    return new Address(0, Address.parse(rec.from).node);
  } catch {
    throw new TaskError(
      "internal_error",
      `task ${rec.task_id} has no valid submitter address ("${rec.from}")`,
    );
  }
}
