/**
 * Installs data exchange in a node (the built-in service "dataexchange", disabled by
 * `--no-dataexchange`): port 1001 of its session layer, the mailbox under its state
 * directory, its logger, and its webhooks for `message.received` / `file.received`. The largest
 * chunked file it accepts comes from `PILOT_MAX_RECEIVE_BYTES` when set. The port is bound here;
 * the server's code loads with the first connection.
 */
import type { ServiceContext, ServiceHandle } from "../context.ts";
import { PORT_DATA_EXCHANGE } from "../../protocol/ports.ts";
import { serveStreamsOnDemand } from "../byte_stream.ts";
import { maxFileBytesFromEnv } from "./receive_limit.ts";

/** Starts data exchange in the node of `ctx`. */
export function installDataExchangeService(ctx: ServiceContext): ServiceHandle {
  const log = ctx.log.child("dataexchange");
  const maxFileBytes = maxFileBytesFromEnv((name) => Deno.env.get(name));
  const stop = serveStreamsOnDemand(
    ctx.sessions,
    PORT_DATA_EXCHANGE,
    async () => {
      const [{ DataExchangeServer }, { Mailbox }] = await Promise.all([
        import("./server.ts"),
        import("./mailbox.ts"),
      ]);
      const server = new DataExchangeServer({
        mailbox: new Mailbox(ctx.stateDir),
        log,
        emit: (event, data) => ctx.webhooks.emit(event, data),
        maxFileBytes,
      });
      return (stream) => server.handle(stream);
    },
    (err) => log.debug("data-exchange connection ended with an error", { err }),
  );
  return { stop };
}
