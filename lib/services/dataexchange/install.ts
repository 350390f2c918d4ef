/**
 * Installs data exchange in a node (the built-in service "dataexchange", disabled by
 * `--no-dataexchange`): port 1001 of its session layer, the mailbox under its state
 * directory, its logger, and its webhooks for `message.received` / `file.received`. The largest
 * chunked file it accepts comes from `PILOT_MAX_RECEIVE_BYTES` when set.
 */
import type { ServiceContext, ServiceHandle } from "../context.ts";
import { PORT_DATA_EXCHANGE } from "../../protocol/ports.ts";
import { Mailbox } from "./mailbox.ts";
import { startDataExchangeService } from "./server.ts";
import { maxFileBytesFromEnv } from "./chunked_receiver.ts";

/** Starts data exchange in the node of `ctx`. */
export function installDataExchangeService(ctx: ServiceContext): ServiceHandle {
  const stop = startDataExchangeService(ctx.sessions, PORT_DATA_EXCHANGE, {
    mailbox: new Mailbox(ctx.stateDir),
    log: ctx.log.child("dataexchange"),
    emit: (event, data) => ctx.webhooks.emit(event, data),
    maxFileBytes: maxFileBytesFromEnv((name) => Deno.env.get(name)),
  });
  return { stop };
}
