/**
 * A minimal Chrome DevTools Protocol client for a process started with `--inspect=HOST:PORT`:
 * benchmarks use it to collect garbage before reading a heap figure (so the figure counts live
 * objects, not garbage the idle process has not collected yet), to take heap snapshots and to read
 * V8's precise coverage.
 * @module
 */
import { freePort } from "../tests/helpers/http_origin.ts";

/**
 * Starts a process with an inspector on a free loopback port (`start` gets the `--inspect=…` flag
 * to pass to `deno run`) and connects to it.
 */
export async function startInspected<T>(start: (inspectFlag: string) => Promise<T>): Promise<[T, Inspector]> {
  const at = `127.0.0.1:${freePort()}`;
  const started = await start(`--inspect=${at}`);
  return [started, await Inspector.open(at)];
}

/** One inspector session over the target's WebSocket. */
export class Inspector {
  #nextId = 1;
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #listeners = new Map<string, (params: Record<string, unknown>) => void>();

  private constructor(readonly socket: WebSocket) {
    socket.onmessage = (event) => {
      const msg = JSON.parse(String(event.data));
      if (typeof msg.id === "number") {
        const w = this.#waiting.get(msg.id);
        this.#waiting.delete(msg.id);
        if (msg.error) w?.reject(new Error(`inspector: ${msg.error.message}`));
        else w?.resolve(msg.result);
      } else if (typeof msg.method === "string") {
        this.#listeners.get(msg.method)?.(msg.params ?? {});
      }
    };
  }

  /** Connects to the first target the inspector at `hostPort` lists. */
  static async open(hostPort: string): Promise<Inspector> {
    const targets = await (await fetch(`http://${hostPort}/json/list`)).json() as {
      webSocketDebuggerUrl: string;
    }[];
    if (!targets.length) throw new Error(`no inspector target at ${hostPort}`);
    const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error(`cannot open the inspector at ${hostPort}`));
    });
    return new Inspector(socket);
  }

  /** Sends one command and waits for its result. */
  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#nextId++;
    this.socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
  }

  /** Runs a full garbage collection in the target. */
  async collectGarbage(): Promise<void> {
    await this.call("HeapProfiler.collectGarbage");
  }

  /** The target's heap snapshot as its JSON text (the snapshot itself collects garbage first). */
  async heapSnapshot(): Promise<string> {
    const chunks: string[] = [];
    this.#listeners.set("HeapProfiler.addHeapSnapshotChunk", (p) => chunks.push(String(p.chunk)));
    await this.call("HeapProfiler.enable");
    await this.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    this.#listeners.delete("HeapProfiler.addHeapSnapshotChunk");
    return chunks.join("");
  }

  close(): void {
    this.socket.close();
  }
}

/** Self size and count per constructor name in a heap snapshot's JSON, largest first. */
export function heapByConstructor(snapshotJson: string): { name: string; count: number; bytes: number }[] {
  const snap = JSON.parse(snapshotJson) as {
    snapshot: { meta: { node_fields: string[]; node_types: unknown[][] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const stride = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const types = snap.snapshot.meta.node_types[0] as string[];
  const totals = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + typeAt]];
    const name = snap.strings[snap.nodes[i + nameAt]];
    // Objects by constructor, closures by function; the rest by type and (shortened) name, where the
    // name says what kind of internal thing it is (feedback vectors, element stores, …).
    const key = type === "object"
      ? name
      : type === "closure"
      ? `closure ${name}`
      : `(${type}) ${name.slice(0, 48)}`;
    const t = totals.get(key) ?? { count: 0, bytes: 0 };
    t.count++;
    t.bytes += snap.nodes[i + sizeAt];
    totals.set(key, t);
  }
  return [...totals].map(([name, t]) => ({ name, ...t })).sort((x, y) => y.bytes - x.bytes);
}
