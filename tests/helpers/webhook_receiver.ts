/**
 * A real HTTP webhook receiver for tests: a Hono app on 127.0.0.1 (ephemeral port) that
 * records every JSON body POSTed to it and answers as the test tells it — 200, a
 * status for the next N requests, or never (hang until the client gives up).
 */
import { Hono } from "hono";

/** How the receiver answers the next request. */
export type ReceiverMode = { kind: "ok" } | { kind: "status"; status: number; times: number } | {
  kind: "hang";
};

/** A running receiver. */
export class WebhookReceiver {
  /** Bodies of requests answered with 2xx, in arrival order. */
  readonly events: Record<string, unknown>[] = [];
  /** Every request seen (including failed and hanging ones). */
  attempts = 0;
  mode: ReceiverMode = { kind: "ok" };
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #hanging = new Set<() => void>();
  #waiters: (() => void)[] = [];

  private constructor() {
    const app = new Hono();
    app.post("/hook", async (c) => {
      this.attempts++;
      const body = await c.req.json();
      const mode = this.mode;
      if (mode.kind === "hang") {
        // Hold the request until the receiver closes (the client gives up on its own).
        await new Promise<void>((resolve) => this.#hanging.add(resolve));
        return c.text("late", 200);
      }
      if (mode.kind === "status" && mode.times > 0) {
        mode.times--;
        return c.text("no", mode.status as 500);
      }
      this.events.push(body);
      const w = this.#waiters;
      this.#waiters = [];
      for (const f of w) f();
      return c.json({ ok: true });
    });
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  }

  /** Starts a receiver; its URL is {@link url}. */
  static start(): WebhookReceiver {
    return new WebhookReceiver();
  }

  /** The URL to configure as webhook. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}/hook`;
  }

  /** Resolves once `pred` holds for the recorded events (checked after each delivery). */
  async waitFor(
    pred: (events: Record<string, unknown>[]) => boolean,
    timeoutMs = 15_000,
  ): Promise<Record<string, unknown>[]> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.events)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `webhook events not as expected after ${timeoutMs} ms: ${JSON.stringify(this.events)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.events;
  }

  /** Events named `name`. */
  named(name: string): Record<string, unknown>[] {
    return this.events.filter((e) => e.event === name);
  }

  /** Releases hanging requests and stops the server. */
  async close(): Promise<void> {
    for (const f of this.#hanging) f();
    await this.#server.shutdown();
  }
}
