/**
 * Plugs data exchange into a running daemon (the BUILTIN_SERVICES entry "dataexchange", disabled
 * by `--no-dataexchange`): port 1001 of its session layer, the mailbox under its state
 * directory, its logger, and its webhooks for `message.received` / `file.received`.
 */
import type { Daemon } from "../../daemon/daemon.ts";
import { PORT_DATA_EXCHANGE } from "../../protocol/ports.ts";
import { Mailbox } from "./mailbox.ts";
import { startDataExchangeService } from "./server.ts";

/** Starts data exchange on `daemon`; returns its stop function. */
export function installDataExchangeService(daemon: Daemon): () => void {
  return startDataExchangeService(daemon.manager, PORT_DATA_EXCHANGE, {
    mailbox: new Mailbox(daemon.config.stateDir),
    log: daemon.log.child("dataexchange"),
    emit: (event, data) => daemon.webhooks.emit(event, data),
  });
}
