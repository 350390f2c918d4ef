/**
 * Runs one decoded IPC request through an {@link IpcHandler} and builds its reply
 * frame (docs/protocol/ipc.md §4): the command table of the daemon side, apart from the per-client
 * loop that feeds it. Reports what the request changed about the client (a bound
 * port, an opened or closed connection, a sent datagram) through {@link ClientBook}.
 * @module
 */
import type { Logger } from "../../log.ts";
import { errorMessage, PilotError } from "../../errors.ts";
import { Cmd, encodeErrorFrame, encodeReply, IpcError, type IpcRequest } from "../../ipc/codec.ts";
import type { IpcClient, IpcHandler } from "./server.ts";

/** What a request changed about the client that sent it. */
export interface ClientBook {
  bound(port: number): void;
  opened(connId: number): void;
  /** Runs `then` right after this request's reply is queued (before any later push). */
  afterReply(then: () => void): void;
  closed(connId: number): void;
  /** The client sent a datagram: it uses datagrams (see the delivery rule in server.ts). */
  sentDatagram(): void;
}

/** The Error-text prefix the reference uses for each request. */
const LABEL: Record<IpcRequest["cmd"], string> = {
  [Cmd.Bind]: "bind",
  [Cmd.Dial]: "dial",
  [Cmd.Send]: "send",
  [Cmd.Close]: "close",
  [Cmd.SendTo]: "sendto",
  [Cmd.Info]: "info",
  [Cmd.Handshake]: "handshake",
  [Cmd.ResolveHostname]: "resolve_hostname",
  [Cmd.SetHostname]: "set_hostname",
  [Cmd.SetVisibility]: "set_visibility",
  [Cmd.Deregister]: "deregister",
  [Cmd.SetTags]: "set_tags",
  [Cmd.SetWebhook]: "set_webhook",
  [Cmd.SetTaskExec]: "set_task_exec",
  [Cmd.Network]: "network",
  [Cmd.Health]: "health",
};

/** Send errors drivers recognise as unsolicited (docs/protocol/ipc.md §3). */
const SEND_ERROR_TEXT = /^(send:|connection \d+ not found$)/;

function unsupported(label: string): IpcError {
  return new IpcError("unknown-command", `${label}: not supported by this daemon`);
}

/**
 * Runs `req` and returns its reply frame (null for Send/SendTo, which have none);
 * a handler failure becomes an Error frame with the reference's prefix rules.
 */
export async function dispatchRequest(
  h: IpcHandler,
  client: IpcClient,
  book: ClientBook,
  req: IpcRequest,
  signal: AbortSignal,
  log: Logger,
): Promise<Uint8Array | null> {
  try {
    return await run(h, client, book, req, signal);
  } catch (err) {
    return encodeErrorFrame(errorText(req, err, log));
  }
}

function errorText(req: IpcRequest, err: unknown, log: Logger): string {
  let text = errorMessage(err);
  if (!(err instanceof PilotError)) {
    log.warn("handler threw a non-pilot error", { cmd: LABEL[req.cmd], err });
  }
  if (req.cmd === Cmd.Send && !SEND_ERROR_TEXT.test(text)) text = `send: ${text}`;
  if (req.cmd === Cmd.SendTo && !text.startsWith("sendto:")) text = `sendto: ${text}`;
  return text;
}

async function run(
  h: IpcHandler,
  client: IpcClient,
  book: ClientBook,
  req: IpcRequest,
  signal: AbortSignal,
): Promise<Uint8Array | null> {
  const label = LABEL[req.cmd];
  switch (req.cmd) {
    case Cmd.Bind: {
      if (!h.bind) throw unsupported(label);
      const port = (await h.bind(client, req.port)) ?? req.port;
      book.bound(port);
      return encodeReply({ cmd: Cmd.BindOK, port });
    }
    case Cmd.Dial: {
      if (!h.dial) throw unsupported(label);
      const connId = await h.dial(client, req.addr, req.port, signal);
      book.opened(connId);
      if (h.dialAnnounced) book.afterReply(() => h.dialAnnounced!(client, connId));
      return encodeReply({ cmd: Cmd.DialOK, connId });
    }
    case Cmd.Send:
      if (!h.send) throw unsupported(label);
      await h.send(client, req.connId, req.data);
      return null;
    case Cmd.Close:
      if (!h.close) throw unsupported(label);
      await h.close(client, req.connId);
      book.closed(req.connId);
      return encodeReply({ cmd: Cmd.CloseOK, connId: req.connId });
    case Cmd.SendTo:
      if (!h.sendTo) throw unsupported(label);
      book.sentDatagram();
      await h.sendTo(client, req.addr, req.port, req.data);
      return null;
    case Cmd.Info:
      if (!h.info) throw unsupported(label);
      return encodeReply({ cmd: Cmd.InfoOK, body: await h.info(client) });
    case Cmd.Health:
      if (!h.health) throw unsupported(label);
      return encodeReply({ cmd: Cmd.HealthOK, body: await h.health(client) });
    case Cmd.Handshake:
      if (!h.handshake) throw unsupported(label);
      return encodeReply({ cmd: Cmd.HandshakeOK, body: await h.handshake(client, req.op, signal) });
    case Cmd.ResolveHostname:
      if (!h.resolveHostname) throw unsupported(label);
      return encodeReply({
        cmd: Cmd.ResolveHostnameOK,
        body: await h.resolveHostname(client, req.hostname, signal),
      });
    case Cmd.SetHostname:
      if (!h.setHostname) throw unsupported(label);
      return encodeReply({ cmd: Cmd.SetHostnameOK, body: await h.setHostname(client, req.hostname, signal) });
    case Cmd.SetVisibility:
      if (!h.setVisibility) throw unsupported(label);
      return encodeReply({
        cmd: Cmd.SetVisibilityOK,
        body: await h.setVisibility(client, req.public, signal),
      });
    case Cmd.Deregister:
      if (!h.deregister) throw unsupported(label);
      return encodeReply({ cmd: Cmd.DeregisterOK, body: await h.deregister(client, signal) });
    case Cmd.SetTags:
      if (!h.setTags) throw unsupported(label);
      return encodeReply({ cmd: Cmd.SetTagsOK, body: await h.setTags(client, req.tags, signal) });
    case Cmd.SetWebhook:
      if (!h.setWebhook) throw unsupported(label);
      return encodeReply({ cmd: Cmd.SetWebhookOK, body: await h.setWebhook(client, req.url) });
    case Cmd.SetTaskExec:
      if (!h.setTaskExec) throw unsupported(label);
      return encodeReply({ cmd: Cmd.SetTaskExecOK, body: await h.setTaskExec(client, req.enabled, signal) });
    case Cmd.Network:
      if (!h.network) throw unsupported(label);
      return encodeReply({ cmd: Cmd.NetworkOK, body: await h.network(client, req.op, signal) });
  }
}
