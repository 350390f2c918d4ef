/**
 * The settings and status shapes of a registry's replication, shared by the
 * replicator and the modules it delegates to without importing its class.
 * @module
 */
import type { StandbyInfo } from "./protocol.ts";

/** How a primary acknowledges writes. */
export type ReplicationMode = "async" | "sync";
/** What a registry is doing. `starting`: a primary checking its peers for a newer epoch. */
export type ReplicationRole = "primary" | "standby" | "starting";

/** Replication settings (RegistryOptions.replication). */
export interface ReplicationOptions {
  /** Shared secret between primary and standbys. */
  token: string;
  mode?: ReplicationMode;
  /** `HOST:PORT` of the primary: start as its standby. */
  standbyOf?: string;
  /** Promote when the primary has been gone past the liveness window. */
  autoFailover?: boolean;
  /** Other registries to ask for a newer epoch at start (standbys are also learnt as they connect). */
  peers?: string[];
  heartbeatMs?: number;
  livenessMs?: number;
  syncTimeoutMs?: number;
  /**
   * TLS for connections to the primary and peers (when they listen with TLS):
   * `caCerts` to verify each against a CA, or `pin` when they share one certificate.
   */
  tls?: { pin?: string; caCerts?: string[] };
}

/** Figures for `pilot registry status` and the benchmarks. */
export interface ReplicationStatus {
  role: ReplicationRole;
  epoch: number;
  seq: number;
  durable_seq: number;
  primary: string;
  listen: string;
  mode: ReplicationMode;
  standbys: (StandbyInfo & { lag: number })[];
  promoted_at_seq: number;
  snapshots_installed: number;
  discarded_events: number;
  unreplicated_writes: number;
}
