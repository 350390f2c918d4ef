/**
 * Task files on disk, laid out as the reference does (docs/protocol/services.md §7.3):
 * `<state>/tasks/received/<id>.json`, `<state>/tasks/submitted/<id>.json` and result
 * payloads in `<state>/tasks/results/`. The daemon and the CLI both change these
 * files, so every change is a locked read-modify-write ending in an atomic rename:
 * readers never see half a file and two writers never lose each other's update.
 */
import { join } from "../../paths.ts";
import { errorMessage, PilotError, settleQuietly } from "../../errors.ts";
import { formatTaskRecord, parseTaskRecord, type TaskRecord } from "./record.ts";
import { isTaskId } from "./codec.ts";

/** Which side of a task a file describes. */
export type TaskBox = "received" | "submitted";

/** Directory under the state directory that holds everything task-related. */
export const TASKS_DIR = "tasks";
/** Sub-directory for result payloads. */
export const RESULTS_DIR = "results";
/** How long a writer waits for another's lock before giving up. */
export const LOCK_WAIT_MS = 3_000;
/** A lock older than this was left by a crashed writer and is broken. */
export const LOCK_STALE_MS = 10_000;
/** Poll interval while waiting for a lock. */
const LOCK_RETRY_MS = 5;
/** Longest result file name kept (longer names are cut, keeping the extension). */
export const MAX_RESULT_NAME = 200;

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const TASK_FILE_RE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json$/;

/** A task file could not be locked, read or written. */
export class TaskStoreError extends PilotError {}

/** Task id of a task file name, or undefined for any other name (locks, temporaries). */
export function taskIdOfFileName(name: string): string | undefined {
  return TASK_FILE_RE.exec(name)?.[1];
}

/** The task files of one state directory. */
export class TaskStore {
  /** `<state>/tasks`. */
  readonly root: string;

  constructor(stateDir: string) {
    this.root = join(stateDir, TASKS_DIR);
  }

  /** Directory of one box. */
  dir(box: TaskBox): string {
    return join(this.root, box);
  }

  /** Path of one task file. */
  path(box: TaskBox, id: string): string {
    if (!isTaskId(id)) throw new TaskStoreError(`"${id}" is not a task id`);
    return join(this.dir(box), `${id}.json`);
  }

  /** Creates the directories (mode 0700). */
  async ensureDirs(): Promise<void> {
    for (const d of [this.dir("received"), this.dir("submitted"), join(this.root, RESULTS_DIR)]) {
      await Deno.mkdir(d, { recursive: true, mode: DIR_MODE });
    }
  }

  /** The task, or null if there is no such file. A corrupt file throws TaskCodecError. */
  async read(box: TaskBox, id: string): Promise<TaskRecord | null> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.path(box, id));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw new TaskStoreError(`cannot read task ${id}: ${errorMessage(err)}`, { cause: err });
    }
    return parseTaskRecord(text);
  }

  /** Writes a new task file; false (and nothing written) if the task already exists. */
  async create(box: TaskBox, rec: TaskRecord): Promise<boolean> {
    await this.ensureDirs();
    return await this.#locked(box, rec.task_id, async () => {
      if (await exists(this.path(box, rec.task_id))) return false;
      await this.#write(box, rec);
      return true;
    });
  }

  /**
   * Locked read-modify-write. `change` gets the current record and returns the new one,
   * or null to leave the file alone; whatever it throws is rethrown after unlocking.
   * Resolves to the record as it is afterwards, or null if the task does not exist.
   */
  async update(
    box: TaskBox,
    id: string,
    change: (rec: TaskRecord) => TaskRecord | null | Promise<TaskRecord | null>,
  ): Promise<TaskRecord | null> {
    if (!(await exists(this.path(box, id)))) return null;
    return await this.#locked(box, id, async () => {
      const current = await this.read(box, id);
      if (!current) return null;
      const next = await change({ ...current });
      if (!next) return current;
      await this.#write(box, next);
      return next;
    });
  }

  /** Every readable task of a box, ordered by creation time then id; corrupt files are skipped. */
  async list(box: TaskBox): Promise<TaskRecord[]> {
    const out: TaskRecord[] = [];
    try {
      for await (const entry of Deno.readDir(this.dir(box))) {
        const id = entry.isFile ? taskIdOfFileName(entry.name) : undefined;
        if (!id) continue;
        try {
          const rec = await this.read(box, id);
          if (rec) out.push(rec);
        } catch {
          // A corrupt or vanished file is not a task.
        }
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return out;
      throw new TaskStoreError(`cannot list ${box} tasks: ${errorMessage(err)}`, { cause: err });
    }
    return out.sort((a, b) =>
      a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.task_id < b.task_id ? -1 : 1
    );
  }

  /**
   * Saves a result payload as `results/<id>_<name>` (0600) and returns its path. The
   * name is reduced to a safe base name first, so a peer cannot write elsewhere.
   */
  async saveResult(id: string, name: string, data: Uint8Array): Promise<string> {
    if (!isTaskId(id)) throw new TaskStoreError(`"${id}" is not a task id`);
    await this.ensureDirs();
    const path = join(this.root, RESULTS_DIR, `${id}_${safeFileName(name)}`);
    const tmp = `${path}.tmp-${crypto.randomUUID()}`;
    try {
      await Deno.writeFile(tmp, data, { mode: FILE_MODE });
      await Deno.rename(tmp, path);
    } catch (err) {
      await settleQuietly(Deno.remove(tmp), "cleanup");
      throw new TaskStoreError(`cannot save result of task ${id}: ${errorMessage(err)}`, { cause: err });
    }
    return path;
  }

  async #write(box: TaskBox, rec: TaskRecord): Promise<void> {
    const path = this.path(box, rec.task_id);
    const tmp = `${path}.tmp-${crypto.randomUUID()}`;
    try {
      await Deno.writeTextFile(tmp, formatTaskRecord(rec), { mode: FILE_MODE });
      await Deno.rename(tmp, path);
    } catch (err) {
      await settleQuietly(Deno.remove(tmp), "cleanup");
      throw new TaskStoreError(`cannot write task ${rec.task_id}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Runs `fn` holding `<id>.lock` in the box directory (exclusive create; stale locks broken). */
  async #locked<T>(box: TaskBox, id: string, fn: () => Promise<T>): Promise<T> {
    const lock = join(this.dir(box), `${id}.lock`);
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        (await Deno.open(lock, { createNew: true, write: true, mode: FILE_MODE })).close();
        break;
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) {
          throw new TaskStoreError(`cannot lock task ${id}: ${errorMessage(err)}`, { cause: err });
        }
      }
      const age = await Deno.stat(lock).then((s) => Date.now() - (s.mtime?.getTime() ?? 0), () => 0);
      if (age > LOCK_STALE_MS) {
        await settleQuietly(Deno.remove(lock), "cleanup");
        continue;
      }
      if (Date.now() > deadline) throw new TaskStoreError(`task ${id} is locked by another writer`);
      await new Promise((r) => setTimeout(r, LOCK_RETRY_MS));
    }
    try {
      return await fn();
    } finally {
      await settleQuietly(Deno.remove(lock), "cleanup");
    }
  }
}

/** A file name safe to use inside the results directory: base name, no control or path characters. */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  // deno-lint-ignore no-control-regex
  let clean = base.replace(/[\u0000-\u001f\u007f]/g, "_").replace(/^\.+/, "_");
  if (!clean) clean = "result";
  if (clean.length > MAX_RESULT_NAME) {
    const dot = clean.lastIndexOf(".");
    const ext = dot > 0 && clean.length - dot <= 16 ? clean.slice(dot) : "";
    clean = clean.slice(0, MAX_RESULT_NAME - ext.length) + ext;
  }
  return clean;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
