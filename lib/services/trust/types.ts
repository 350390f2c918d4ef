/**
 * The trust service's public shapes: its error, the views the IPC Handshake lists show,
 * the reasons a received message is dropped, and the counters behind /metrics.
 * @module
 */
import { PilotError } from "../../errors.ts";

/** A local operation was refused (unknown peer, not trusted, relay failure). */
export class TrustError extends PilotError {}

/** A trusted peer as the IPC Handshake "trusted" list shows it (docs/protocol/ipc.md §6.3; times in Unix s). */
export interface TrustedPeerView {
  node_id: number;
  public_key: string;
  approved_at: number;
  mutual: boolean;
  network: number;
}

/** A pending request as the IPC Handshake "pending" list shows it. */
export interface PendingView {
  node_id: number;
  public_key: string;
  justification: string;
  received_at: number;
}

/** Why a received message was not acted on. */
export type DropReason =
  | "malformed"
  | "timeout"
  | "too-old"
  | "future"
  | "replay"
  | "replay-full"
  | "source-mismatch"
  | "unsigned"
  | "no-key"
  | "key-mismatch"
  | "bad-signature"
  | "unknown-type"
  | "pending-full"
  | "unsolicited-accept";

/** Counters for /metrics. */
export interface TrustStats {
  /** Messages processed, by type (direct and relayed). */
  processed: Record<string, number>;
  /** Messages dropped, by reason. */
  dropped: Partial<Record<DropReason, number>>;
  /** Messages we sent, by path. */
  sent: { direct: number; relay: number; failed: number };
  /** Auto-approvals, by reason. */
  autoApproved: { mutual: number; same_network: number };
}
