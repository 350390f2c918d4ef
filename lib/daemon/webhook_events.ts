/**
 * Connection lifecycle webhooks (services.md §9): `conn.syn_received` and
 * `conn.established` when a peer's SYN is accepted, then `conn.fin`, `conn.rst` or
 * `conn.idle_timeout` when that peer ends, resets or idles out the connection. The
 * session manager has no event hook, so this observes the one callback every stream
 * state change already goes through (`StreamHost.stateChanged`); the extra work runs
 * only while a webhook URL is set, and only on state changes, never per packet.
 */
import type { SessionManager } from "../transport/manager.ts";
import type { Stream, StreamState } from "../transport/stream.ts";
import type { WebhookEmitter } from "./webhooks.ts";

/** The close reasons that are the peer's doing, and the event each one raises. */
const CLOSE_EVENTS: Partial<Record<string, string>> = {
  remote: "conn.fin",
  reset: "conn.rst",
  idle: "conn.idle_timeout",
};

/** Starts emitting connection events for `manager`'s streams; returns a function that stops it. */
export function attachConnectionEvents(manager: SessionManager, webhooks: WebhookEmitter): () => void {
  const original = manager.stateChanged;
  const reported = new WeakSet<Stream>();
  const observed = function (this: SessionManager, stream: Stream, previous: StreamState): void {
    original.call(this, stream, previous);
    if (!webhooks.url) return;
    const state = stream.state;
    // A passive open goes straight from CLOSED to ESTABLISHED (the SYN+ACK is already on its way).
    if (previous === "CLOSED" && state === "ESTABLISHED") {
      const data = {
        src_addr: stream.remoteAddr.toString(),
        src_port: stream.remotePort,
        dst_port: stream.localPort,
        conn_id: stream.id,
      };
      webhooks.emit("conn.syn_received", data);
      webhooks.emit("conn.established", { ...data });
      return;
    }
    if (state === "TIME_WAIT" || state === "CLOSED") {
      // The stream records why it closed just after it changes state: look once that step is done.
      queueMicrotask(() => reportClose(stream));
    }
  };
  const reportClose = (stream: Stream) => {
    const event = stream.closeReason === undefined ? undefined : CLOSE_EVENTS[stream.closeReason];
    if (!event || reported.has(stream)) return;
    reported.add(stream);
    webhooks.emit(event, {
      remote_addr: stream.remoteAddr.toString(),
      remote_port: stream.remotePort,
      local_port: stream.localPort,
      conn_id: stream.id,
    });
  };
  manager.stateChanged = observed;
  return () => {
    if (manager.stateChanged === observed) manager.stateChanged = original;
  };
}
