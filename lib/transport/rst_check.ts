/**
 * Whether a received RST belongs to the connection it names (RFC 5961 §3, adapted). An RST
 * from a peer's older connection on the same 4-tuple must not end a new one. Pure: the stream
 * acts on the verdict.
 *
 * - Seq 0 and Ack 0 is the reference's RST (and every RST of ours before sequence checks):
 *   it carries no sequence information, so it cannot be checked and is accepted; what keeps
 *   a stale one off a new connection is that dials do not reuse a recently closed tuple
 *   (closed_tuples.ts).
 * - SYN_SENT: accepted only when its Ack acknowledges our SYN.
 * - Otherwise Seq exactly the next expected byte → accepted; further inside the receive
 *   window → answered with a challenge ACK instead (RFC 5961 expects a peer that lost the
 *   connection to reset again with the exact Seq; Pilot peers send nothing for unknown
 *   connections, so the connection is then left to its own timers); anywhere else → ignored.
 * @module
 */
import { seqDiff } from "./seq.ts";

/** `accept`: end the connection; `challenge`: send an ACK instead; `ignore`: drop the RST. */
export type RstVerdict = "accept" | "challenge" | "ignore";

/** What the check needs of the connection. */
export interface RstCheckState {
  /** True while our SYN is unanswered (SYN_SENT). */
  synSent: boolean;
  /** Our next sequence number (in SYN_SENT: our ISN + 1, what a SYN's answer acknowledges). */
  sndNxt: number;
  /** The next sequence number we expect from the peer. */
  rcvNxt: number;
  /** Bytes the receive window spans from `rcvNxt` (the receive buffer's size). */
  rcvWindow: number;
}

/** Challenge ACKs a node sends per second, all connections together (RFC 5961 §7). */
export const CHALLENGE_ACK_RATE = 10;
/** Challenge ACKs that may go out back to back before the rate applies. */
export const CHALLENGE_ACK_BURST = 10;

/** The verdict on an RST carrying `seq` and `ack` for a connection in `st`. */
export function judgeRst(seq: number, ack: number, st: RstCheckState): RstVerdict {
  if (seq === 0 && ack === 0) return "accept";
  if (st.synSent) return ack === st.sndNxt ? "accept" : "ignore";
  const ahead = seqDiff(seq, st.rcvNxt);
  if (ahead === 0) return "accept";
  return ahead > 0 && ahead < st.rcvWindow ? "challenge" : "ignore";
}
