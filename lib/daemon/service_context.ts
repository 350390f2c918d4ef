/**
 * The {@link ServiceContext} a daemon hands its built-in services: the node's parts narrowed to
 * what a service may use, so services never reach into the daemon.
 */
import type { Logger } from "../log.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { SessionManager } from "../transport/manager.ts";
import type { Tunnel } from "../tunnel/tunnel.ts";
import type { ServiceContext, ServiceIdentity, ServiceLifecycle, WebhookSink } from "../services/context.ts";
import { streamFromTransport } from "../services/byte_stream.ts";
import type { Dialer } from "./dialer.ts";
import type { PeerDirectory } from "./peers.ts";
import type { PeerKeys } from "./peer_keys.ts";

/** The node's parts a service context is built from. */
export interface ServiceContextParts {
  nodeId(): number;
  identity: ServiceIdentity;
  stateDir: string;
  log: Logger;
  manager: SessionManager;
  registry: RegistryClient;
  dialer: Dialer;
  peers: PeerDirectory;
  keys: PeerKeys;
  tunnel: Tunnel;
  webhooks: WebhookSink;
  lifecycle: ServiceLifecycle;
}

/** What the built-in services may use of this node. */
export function serviceContext(parts: ServiceContextParts): ServiceContext {
  const { peers, keys, tunnel, dialer } = parts;
  return {
    nodeId: parts.nodeId,
    identity: parts.identity,
    stateDir: parts.stateDir,
    log: parts.log,
    sessions: parts.manager,
    registry: parts.registry,
    dial: async (node, port, options) => streamFromTransport(await dialer.dial(node, port, options)),
    peers: {
      publicKey: (node) => keys.publicKey(node),
      isRouted: (node) => peers.isRouted(node),
      disconnect: (node, delayMs) => {
        peers.forget(node);
        keys.forget(node);
        setTimeout(() => {
          if (!peers.isRouted(node)) tunnel.removePeer(node);
        }, delayMs);
      },
    },
    webhooks: parts.webhooks,
    lifecycle: parts.lifecycle,
  };
}
