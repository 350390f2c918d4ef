/**
 * Installs the event-stream broker in a node (the built-in service "eventstream", disabled by
 * `--no-eventstream`): port 1002 of its session layer, its logger, and its webhooks for
 * `pubsub.subscribed` / `pubsub.published` / `pubsub.unsubscribed`. The port is bound here; the
 * broker's code loads with the first connection.
 */
import type { ServiceContext, ServiceHandle } from "../context.ts";
import { PORT_EVENT_STREAM } from "../../protocol/ports.ts";
import { serveStreamsOnDemand } from "../byte_stream.ts";

/** Starts the broker in the node of `ctx`. */
export function installEventStreamService(ctx: ServiceContext): ServiceHandle {
  const log = ctx.log.child("eventstream");
  const stop = serveStreamsOnDemand(
    ctx.sessions,
    PORT_EVENT_STREAM,
    async () => {
      const { EventBroker } = await import("./broker.ts");
      const broker = new EventBroker({ log, emit: (event, data) => ctx.webhooks.emit(event, data) });
      return (stream) => broker.handle(stream);
    },
    (err) => log.debug("event-stream connection ended with an error", { err }),
  );
  return { stop };
}
