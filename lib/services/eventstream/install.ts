/**
 * Installs the event-stream broker in a node (the built-in service "eventstream", disabled by
 * `--no-eventstream`): port 1002 of its session layer, its logger, and its webhooks for
 * `pubsub.subscribed` / `pubsub.published` / `pubsub.unsubscribed`.
 */
import type { ServiceContext, ServiceHandle } from "../context.ts";
import { PORT_EVENT_STREAM } from "../../protocol/ports.ts";
import { startEventStreamService } from "./broker.ts";

/** Starts the broker in the node of `ctx`. */
export function installEventStreamService(ctx: ServiceContext): ServiceHandle {
  const stop = startEventStreamService(ctx.sessions, PORT_EVENT_STREAM, {
    log: ctx.log.child("eventstream"),
    emit: (event, data) => ctx.webhooks.emit(event, data),
  });
  return { stop };
}
