/**
 * The daemon's task submission service on port 1003 (docs/protocol/services.md §7). As a worker it
 * gates submissions on polo score, files them under `tasks/received/` and keeps the
 * FIFO queue of tasks waiting to run; as a submitter it records status updates and
 * results in `tasks/submitted/` and pays the worker's polo reward.
 *
 * Queue ownership (the §12 fix): the CLI changes task files directly, so the daemon
 * watches `received/` and re-reads queued tasks whenever their files change (and on a
 * periodic sweep). A task leaves the queue as soon as its file leaves NEW/ACCEPTED, and
 * the next head gets its `staged_at` at once, so the worker's staging time is real.
 */
import { Address, AddressError } from "../../protocol/address.ts";
import { PORT_TASKS } from "../../protocol/ports.ts";
import type { Logger } from "../../log.ts";
import { fromBase64, utf8 } from "../../bytes.ts";
import { type PeerStream, serveStreams } from "../byte_stream.ts";
import type { ServiceContext, ServiceSessions } from "../context.ts";
import {
  FRAME_SEND_RESULTS,
  FRAME_STATUS_UPDATE,
  FRAME_SUBMIT,
  parseSendResults,
  parseStatusUpdate,
  parseSubmit,
  SUBMIT_ACCEPTED,
  SUBMIT_REJECTED,
  type SubmitReply,
  submitReplyFrame,
  TaskCodecError,
} from "./codec.ts";
import { readTaskFrame, sendStatusUpdate, TASK_IO_TIMEOUT_MS } from "./protocol.ts";
import {
  ACCEPT_WINDOW_MS,
  isTaskStatus,
  JUSTIFICATION,
  parseTime,
  QUEUED_STATUSES,
  rfc3339,
  type TaskRecord,
} from "./record.ts";
import { taskIdOfFileName, TaskStore } from "./store.ts";
import { poloReward } from "./reward.ts";
import { errorMessage } from "../../errors.ts";

/** A task at the head of the queue for longer than this expires (and costs the worker a point). */
export const HEAD_EXPIRY_MS = 60 * 60_000;
/** Period of the cancel/expire sweep (the reference checks every 10 s and 30 s). */
export const TASK_SWEEP_MS = 10_000;
/** Most tasks waiting in the queue; further submissions are refused. */
export const MAX_QUEUED_TASKS = 1_000;
/** Task connections served at once; more are closed at once (each may buffer a 16 MiB result). */
export const MAX_ACTIVE_CONNECTIONS = 32;
/** File events are gathered for this long before the queue is re-read. */
const WATCH_DEBOUNCE_MS = 20;

/** The registry calls the service makes. */
export interface TaskRegistry {
  getPoloScore(nodeId: number): Promise<Record<string, unknown>>;
  updatePoloScore(nodeId: number, delta: number): Promise<unknown>;
}

/** How long the service waits for a submitter's task port when notifying it. */
export const NOTIFY_DIAL_TIMEOUT_MS = 15_000;

/**
 * What the service uses of its node: a {@link ServiceContext} satisfies it. `dial` opens a
 * stream to a submitter's task port (to tell it its task was dropped).
 */
export interface TaskServiceHost extends Pick<ServiceContext, "nodeId" | "stateDir" | "dial"> {
  sessions: Pick<ServiceSessions, "listen" | "unlisten">;
  registry: TaskRegistry;
  log: Logger;
}

/** Tunables (tests shorten them). */
export interface TaskServiceOptions {
  acceptWindowMs?: number;
  headExpiryMs?: number;
  sweepMs?: number;
  maxQueued?: number;
}

/** Counters for logs and metrics. */
export interface TaskServiceStats {
  received: number;
  rejected: number;
  cancelled: number;
  expired: number;
  statusUpdates: number;
  results: number;
  rewardsPaid: number;
  registryErrors: number;
}

/** A running task service; {@link TaskService.start} it, {@link TaskService.stop} it. */
export class TaskService {
  readonly store: TaskStore;
  readonly stats: TaskServiceStats = {
    received: 0,
    rejected: 0,
    cancelled: 0,
    expired: 0,
    statusUpdates: 0,
    results: 0,
    rewardsPaid: 0,
    registryErrors: 0,
  };
  /** Received task ids waiting to run, oldest (the head) first. */
  readonly #queue = new Set<string>();
  readonly #host: TaskServiceHost;
  readonly #acceptWindowMs: number;
  readonly #headExpiryMs: number;
  readonly #maxQueued: number;
  readonly #sweepMs: number;
  #stopListening?: () => void;
  #watcher?: Deno.FsWatcher;
  /** The periodic sweep; it runs only while tasks are queued (an empty queue has nothing to sweep). */
  #sweepTimer?: ReturnType<typeof setInterval>;
  #debounce?: ReturnType<typeof setTimeout>;
  /** Queue maintenance runs one at a time, in order. */
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;
  #active = 0;

  /** Received tasks waiting to run (NEW or ACCEPTED). */
  get queued(): number {
    return this.#queue.size;
  }

  private constructor(host: TaskServiceHost, options: TaskServiceOptions) {
    this.#host = host;
    this.store = new TaskStore(host.stateDir);
    this.#acceptWindowMs = options.acceptWindowMs ?? ACCEPT_WINDOW_MS;
    this.#headExpiryMs = options.headExpiryMs ?? HEAD_EXPIRY_MS;
    this.#maxQueued = options.maxQueued ?? MAX_QUEUED_TASKS;
    this.#sweepMs = options.sweepMs ?? TASK_SWEEP_MS;
  }

  /** Creates the task directories, rebuilds the queue from disk and starts serving port 1003. */
  static async start(host: TaskServiceHost, options: TaskServiceOptions = {}): Promise<TaskService> {
    const svc = new TaskService(host, options);
    await svc.store.ensureDirs();
    for (const rec of await svc.store.list("received")) {
      if (QUEUED_STATUSES.includes(rec.status)) svc.#queue.add(rec.task_id);
    }
    await svc.#maintain();
    svc.#stopListening = serveStreams(
      host.sessions,
      PORT_TASKS,
      (s) => svc.#serve(s),
      (err) => host.log.debug("task connection failed", { err }),
    );
    svc.#watch();
    svc.#sweepWhileQueued();
    return svc;
  }

  /** Received task ids in queue order (head first). */
  queue(): string[] {
    return [...this.#queue];
  }

  /** Stops serving, watching and sweeping; waits for queue maintenance in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopListening?.();
    clearInterval(this.#sweepTimer);
    clearTimeout(this.#debounce);
    try {
      this.#watcher?.close();
    } catch {
      // already closed
    }
    await this.#chain;
  }

  // ---- connections --------------------------------------------------------------------------

  async #serve(stream: PeerStream): Promise<void> {
    if (this.#active >= MAX_ACTIVE_CONNECTIONS) {
      this.stats.rejected++;
      await stream.close();
      return;
    }
    this.#active++;
    try {
      const frame = await readTaskFrame(stream);
      if (!frame) return;
      const src = stream.remoteAddr.node;
      if (frame.type === FRAME_SUBMIT) {
        const reply = await this.#onSubmit(frame.body, src);
        await stream.write(submitReplyFrame(reply), { timeoutMs: TASK_IO_TIMEOUT_MS });
      } else if (frame.type === FRAME_STATUS_UPDATE) {
        await this.#onStatusUpdate(frame.body, src);
      } else if (frame.type === FRAME_SEND_RESULTS) {
        await this.#onResults(frame.body, src);
      } else {
        this.#host.log.debug("task frame of unhandled type ignored", { type: frame.type, src });
      }
    } catch (err) {
      // Malformed frames and slow peers only cost their own connection.
      this.#host.log.debug("task connection dropped", { err });
    } finally {
      this.#active--;
      await stream.close();
    }
  }

  async #onSubmit(body: Record<string, unknown>, src: number): Promise<SubmitReply> {
    const reject = (task_id: string, message: string): SubmitReply => {
      this.stats.rejected++;
      return { task_id, status: SUBMIT_REJECTED, message };
    };
    let req;
    try {
      req = parseSubmit(body);
    } catch (err) {
      const id = typeof body.task_id === "string" ? body.task_id : "";
      return reject(id, `Invalid task: ${errorMessage(err)}`);
    }
    const self = this.#host.nodeId();
    let submitterScore: number, ownScore: number;
    try {
      [submitterScore, ownScore] = await Promise.all([this.#score(src), this.#score(self)]);
    } catch (err) {
      this.stats.registryErrors++;
      this.#host.log.warn("polo score check failed", { err });
      return reject(req.task_id, "Failed to verify polo score");
    }
    if (submitterScore < ownScore) {
      return reject(req.task_id, `Polo score too low: submitter=${submitterScore}, receiver=${ownScore}`);
    }
    if (this.#queue.size >= this.#maxQueued) return reject(req.task_id, "Task queue is full");
    const now = Date.now();
    const rec: TaskRecord = {
      task_id: req.task_id,
      task_description: req.task_description,
      created_at: rfc3339(now),
      status: "NEW",
      status_justification: JUSTIFICATION.created,
      from: submitterAddress(req.from_addr, src),
      to: new Address(0, self).toString(),
    };
    if (this.#queue.size === 0) rec.staged_at = rec.created_at;
    if (!(await this.store.create("received", rec))) return reject(req.task_id, "Task already exists");
    this.#queue.add(rec.task_id);
    this.#sweepWhileQueued();
    this.stats.received++;
    this.#host.log.info("task received", { task: rec.task_id, from: rec.from });
    return { task_id: req.task_id, status: SUBMIT_ACCEPTED, message: "Task received with status NEW" };
  }

  async #score(node: number): Promise<number> {
    const reply = await this.#host.registry.getPoloScore(node);
    const score = reply.polo_score ?? 0;
    if (typeof score !== "number") throw new TaskCodecError("registry returned a non-numeric polo score");
    return score;
  }

  /** Submitter side: the worker reports progress on a task we submitted. */
  async #onStatusUpdate(body: Record<string, unknown>, src: number): Promise<void> {
    const msg = parseStatusUpdate(body);
    if (!isTaskStatus(msg.status) || msg.status === "COMPLETED" || msg.status === "NEW") {
      throw new TaskCodecError(`status update to "${msg.status}" is not allowed`);
    }
    const status = msg.status;
    await this.store.update("submitted", msg.task_id, (rec) => {
      if (!this.#isWorker(rec, src) || rec.status === "COMPLETED") return null;
      this.stats.statusUpdates++;
      return { ...rec, status, status_justification: msg.justification };
    });
  }

  /** Submitter side: results arrive; save them, complete the task and pay the reward once. */
  async #onResults(body: Record<string, unknown>, src: number): Promise<void> {
    const msg = parseSendResults(body);
    const payload = msg.result_type === "file"
      ? { name: msg.filename!, data: fromBase64Checked(msg.file_data ?? "") }
      : { name: "result.txt", data: utf8(msg.result_text ?? "") };
    let paid = false;
    await this.store.update("submitted", msg.task_id, async (rec) => {
      if (!this.#isWorker(rec, src)) return null;
      if (["COMPLETED", "DECLINED", "CANCELLED", "EXPIRED"].includes(rec.status)) return null;
      await this.store.saveResult(msg.task_id, payload.name, payload.data);
      paid = true;
      const next: TaskRecord = {
        ...rec,
        status: "COMPLETED",
        status_justification: JUSTIFICATION.completed,
        completed_at: validTime(msg.completed_at) ?? rfc3339(Date.now()),
      };
      if (msg.time_idle_ms) next.time_idle_ms = msg.time_idle_ms;
      if (msg.time_staged_ms) next.time_staged_ms = msg.time_staged_ms;
      if (msg.time_cpu_ms) next.time_cpu_ms = msg.time_cpu_ms;
      return next;
    });
    if (!paid) return;
    this.stats.results++;
    const reward = poloReward(msg);
    this.#host.log.info("task completed", { task: msg.task_id, worker: src, reward });
    await this.#adjustScore(this.#host.nodeId(), -1);
    if (await this.#adjustScore(src, reward)) this.stats.rewardsPaid++;
  }

  #isWorker(rec: TaskRecord, src: number): boolean {
    try {
      return Address.parse(rec.to).node === src;
    } catch {
      return false;
    }
  }

  async #adjustScore(node: number, delta: number): Promise<boolean> {
    try {
      await this.#host.registry.updatePoloScore(node, delta);
      return true;
    } catch (err) {
      this.stats.registryErrors++;
      this.#host.log.warn("polo score update failed", { node, delta, err });
      return false;
    }
  }

  // ---- queue maintenance ----------------------------------------------------------------------

  #watch(): void {
    try {
      this.#watcher = Deno.watchFs(this.store.dir("received"), { recursive: false });
    } catch (err) {
      this.#host.log.warn("cannot watch task files; relying on the periodic sweep", { err });
      return;
    }
    (async () => {
      for await (const event of this.#watcher!) {
        if (!event.paths.some((p) => this.#queue.has(taskIdOfFileName(p.split("/").pop() ?? "") ?? ""))) {
          continue;
        }
        clearTimeout(this.#debounce);
        this.#debounce = setTimeout(() => this.#schedule(), WATCH_DEBOUNCE_MS);
      }
    })().catch((err) => this.#host.log.debug("task file watcher ended", { err }));
  }

  /** Starts the periodic sweep when tasks are queued; it stops itself once the queue is empty. */
  #sweepWhileQueued(): void {
    if (this.#sweepTimer !== undefined || this.#stopped || this.#queue.size === 0) return;
    this.#sweepTimer = setInterval(() => {
      if (this.#queue.size > 0) return this.#schedule();
      clearInterval(this.#sweepTimer);
      this.#sweepTimer = undefined;
    }, this.#sweepMs);
  }

  /** Whether the periodic sweep is running (for tests). */
  get sweeping(): boolean {
    return this.#sweepTimer !== undefined;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#chain = this.#chain.then(() => this.#maintain()).catch((err) =>
      this.#host.log.warn("task queue maintenance failed", { err })
    );
  }

  /**
   * Re-reads every queued task: drops those that left NEW/ACCEPTED (or vanished),
   * cancels NEW ones past the accept window, expires a head staged too long, and
   * stamps `staged_at` on the (new) head.
   */
  async #maintain(): Promise<void> {
    const now = Date.now();
    for (const id of [...this.#queue]) {
      let rec: TaskRecord | null;
      try {
        rec = await this.store.read("received", id);
      } catch {
        rec = null; // corrupt: nothing to run
      }
      if (!rec || !QUEUED_STATUSES.includes(rec.status)) {
        this.#queue.delete(id);
        continue;
      }
      if (rec.status === "NEW" && now - parseTime(rec.created_at) > this.#acceptWindowMs) {
        await this.#drop(rec, "CANCELLED", JUSTIFICATION.cancelled);
      }
    }
    const head = this.#queue.values().next().value;
    if (head === undefined) return;
    const updated = await this.store.update("received", head, (rec) => {
      if (!QUEUED_STATUSES.includes(rec.status) || rec.staged_at) return null;
      return { ...rec, staged_at: rfc3339(now) };
    });
    if (!updated) return;
    if (updated.staged_at && now - parseTime(updated.staged_at) > this.#headExpiryMs) {
      if (await this.#drop(updated, "EXPIRED", JUSTIFICATION.expired)) {
        await this.#adjustScore(this.#host.nodeId(), -1);
        await this.#maintain(); // the next task is head now
      }
    }
  }

  /** Moves a queued task to a final status, locally and (best effort) at the submitter. */
  async #drop(rec: TaskRecord, status: "CANCELLED" | "EXPIRED", why: string): Promise<boolean> {
    let changed = false;
    await this.store.update("received", rec.task_id, (cur) => {
      if (!QUEUED_STATUSES.includes(cur.status)) return null;
      changed = true;
      return { ...cur, status, status_justification: why };
    });
    this.#queue.delete(rec.task_id);
    if (!changed) return false;
    this.stats[status === "CANCELLED" ? "cancelled" : "expired"]++;
    this.#host.log.info(`task ${status.toLowerCase()}`, { task: rec.task_id });
    // Submitter on this machine (the reference rewrites both files).
    await this.store.update(
      "submitted",
      rec.task_id,
      (cur) => cur.status === "COMPLETED" ? null : { ...cur, status, status_justification: why },
    ).catch((err) => this.#host.log.warn("cannot update the submitted copy", { task: rec.task_id, err }));
    // Unlike the reference, also tell a remote submitter, so its file does not stay NEW forever.
    void this.#notify(rec.from, { task_id: rec.task_id, status, justification: why });
    return true;
  }

  async #notify(from: string, update: { task_id: string; status: string; justification: string }) {
    let node: number;
    try {
      node = Address.parse(from).node;
    } catch {
      return;
    }
    if (node === this.#host.nodeId()) return;
    try {
      const stream = await this.#host.dial(node, PORT_TASKS, { timeoutMs: NOTIFY_DIAL_TIMEOUT_MS });
      try {
        await sendStatusUpdate(stream, update);
      } finally {
        await stream.close();
      }
    } catch (err) {
      this.#host.log.debug("could not notify submitter", { task: update.task_id, err });
    }
  }
}

/** The submitter's address text: its claim if it names the connection's node, else the node itself. */
function submitterAddress(claimed: string, src: number): string {
  try {
    if (Address.parse(claimed).node === src) return claimed;
  } catch (err) {
    if (!(err instanceof AddressError)) throw err;
  }
  return new Address(0, src).toString();
}

function validTime(text: string): string | undefined {
  try {
    parseTime(text);
    return text;
  } catch {
    return undefined;
  }
}

function fromBase64Checked(text: string): Uint8Array {
  try {
    return fromBase64(text);
  } catch {
    throw new TaskCodecError("file_data is not valid base64");
  }
}
