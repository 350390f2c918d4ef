/**
 * Auto-join at start (docs/protocol/services.md §11.1 `-networks`, docs/protocol/registry.md §14 step 6): the daemon joins each
 * configured network with a signed `join_network`. As in the reference, this runs only when an
 * admin token is configured, and the token itself is not sent: the registry's join rule decides,
 * so only open networks accept (a token network needs its join token, an invite network an
 * invitation). A failure is logged and the next network is tried; none stops the daemon.
 */
import type { Logger } from "../log.ts";
import type { WireMessage } from "../registry/wire.ts";
import { errorMessage } from "../errors.ts";

/** The registry call auto-join needs (RegistryClient has it). */
export interface NetworkJoiner {
  joinNetwork(networkId: number): Promise<WireMessage>;
}

/** Auto-join settings and the callback told about each network joined. */
export interface AutoJoinOptions {
  networks: readonly number[];
  adminToken?: string;
  log: Logger;
  /** Called once per network joined (the daemon emits `network.auto_joined`). */
  joined: (networkId: number) => void;
}

/** Joins the configured networks in order; resolves to the ids joined. Never rejects. */
export async function autoJoinNetworks(registry: NetworkJoiner, options: AutoJoinOptions): Promise<number[]> {
  const { networks, log } = options;
  if (networks.length === 0) return [];
  if (!options.adminToken) {
    log.warn("--networks needs --admin-token (as the reference); not joining", { networks });
    return [];
  }
  const joined: number[] = [];
  for (const id of networks) {
    try {
      await registry.joinNetwork(id);
    } catch (err) {
      const reason = errorMessage(err);
      if (/already in network/.test(reason)) log.info("already a member of network", { network: id });
      else log.warn("auto-join failed", { network: id, reason });
      continue;
    }
    joined.push(id);
    log.info("joined network", { network: id });
    try {
      options.joined(id);
    } catch (err) {
      log.warn("auto-join callback failed", { network: id, err });
    }
  }
  return joined;
}
