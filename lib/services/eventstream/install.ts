/**
 * Plugs the event-stream broker into a running daemon (the BUILTIN_SERVICES entry
 * "eventstream", disabled by `--no-eventstream`): port 1002 of its session layer, its logger,
 * and its webhooks for `pubsub.subscribed` / `pubsub.published` / `pubsub.unsubscribed`.
 */
import type { Daemon } from "../../daemon/daemon.ts";
import { PORT_EVENT_STREAM } from "../../protocol/ports.ts";
import { startEventStreamService } from "./broker.ts";

/** Starts the broker on `daemon`; returns its stop function. */
export function installEventStreamService(daemon: Daemon): () => void {
  return startEventStreamService(daemon.manager, PORT_EVENT_STREAM, {
    log: daemon.log.child("eventstream"),
    emit: (event, data) => daemon.webhooks.emit(event, data),
  });
}
