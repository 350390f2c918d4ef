/** Every `pilot` command, in the order `pilot --help` lists them. */
import type { Command } from "./command.ts";
import { daemonCommand } from "./daemon.ts";
import { upCommand } from "./up.ts";
import { healthCommand, infoCommand } from "./status.ts";
import { pingCommand } from "./ping.ts";
import { benchCommand } from "./bench.ts";
import { connectCommand, listenCommand } from "./connect.ts";
import { recvCommand, sendCommand } from "./stdio.ts";
import { sendFileCommand, sendMessageCommand } from "./dataexchange.ts";
import { publishCommand, subscribeCommand } from "./eventstream.ts";
import { inboxCommand, receivedCommand } from "./mailbox.ts";
import { TRUST_COMMANDS } from "./trust.ts";
import { registryCommand } from "./registry.ts";
import { beaconCommand } from "./beacon.ts";
import { identityCommand } from "./identity.ts";
import { versionCommand } from "./version.ts";
import { disableTasksCommand, enableTasksCommand, taskCommand } from "./task.ts";
import { clearWebhookCommand, setWebhookCommand } from "./webhook.ts";
import { nameserverCommand, nsCommand } from "./nameserver.ts";
import { NODE_ADMIN_COMMANDS } from "./node_admin.ts";
import { rotateKeyCommand } from "./rotate_key.ts";
import { auditCommand, networkCommand } from "./network.ts";
import { auditExportCommand, auditWebhookCommand } from "./audit_export.ts";
import { connectionsCommand, disconnectCommand, peersCommand, tracerouteCommand } from "./diagnostics.ts";
import { downCommand } from "./lifecycle.ts";
import { nodeStatusCommand } from "./node_status.ts";
import { configCommand, contextCommand, initCommand } from "./setup.ts";
import { completionCommand } from "./completion.ts";
import { serviceCommand } from "./service.ts";
import { IDENTITY_ADMIN_COMMANDS } from "./identity_admin.ts";
import { exposeCommand, exposedCommand, gatewayCommand, unexposeCommand } from "./gateway.ts";

export const COMMANDS: readonly Command[] = [
  upCommand,
  initCommand,
  configCommand,
  daemonCommand,
  downCommand,
  nodeStatusCommand,
  infoCommand,
  healthCommand,
  peersCommand,
  connectionsCommand,
  disconnectCommand,
  pingCommand,
  tracerouteCommand,
  benchCommand,
  connectCommand,
  listenCommand,
  sendCommand,
  recvCommand,
  sendMessageCommand,
  sendFileCommand,
  inboxCommand,
  receivedCommand,
  subscribeCommand,
  publishCommand,
  ...TRUST_COMMANDS,
  ...NODE_ADMIN_COMMANDS,
  rotateKeyCommand,
  networkCommand,
  auditCommand,
  ...IDENTITY_ADMIN_COMMANDS,
  auditExportCommand,
  auditWebhookCommand,
  registryCommand,
  beaconCommand,
  identityCommand,
  taskCommand,
  enableTasksCommand,
  disableTasksCommand,
  setWebhookCommand,
  clearWebhookCommand,
  nameserverCommand,
  nsCommand,
  serviceCommand,
  completionCommand,
  contextCommand,
  gatewayCommand,
  exposeCommand,
  unexposeCommand,
  exposedCommand,
  versionCommand,
];
