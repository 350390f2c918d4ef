/**
 * The snapshot behind `Stream.stats()`: the send side's congestion, RTT and loss-recovery state
 * and counters, the receive side's, and the packet counts, gathered under the field names the
 * daemon's info and metrics output use. Kept out of the state machine, which never reads it.
 * @module
 */
import type { ReceiveBuffer } from "./receive-buffer.ts";
import type { SendSide } from "./send-side.ts";
import { WINDOW_UNIT_BYTES } from "./stream_constants.ts";
import type { StreamOutput } from "./stream_output.ts";
import type { StreamState, StreamStats } from "./stream_types.ts";

/** Which connection the snapshot is of. */
export interface StreamIdentity {
  readonly id: number;
  readonly localPort: number;
  readonly remoteAddr: { toString(): string };
  readonly remotePort: number;
  readonly state: StreamState;
}

/** Builds a stream's {@link StreamStats} from its parts. */
export function buildStreamStats(
  s: StreamIdentity,
  tx: SendSide,
  rx: ReceiveBuffer,
  out: StreamOutput,
): StreamStats {
  const c = tx.recovery.counters;
  return {
    id: s.id,
    localPort: s.localPort,
    remoteAddr: s.remoteAddr.toString(),
    remotePort: s.remotePort,
    state: s.state,
    congWin: tx.cc.cwnd,
    ssthresh: tx.cc.ssthresh,
    inFlight: tx.inFlight,
    srttMs: Math.round(tx.rtt.srtt),
    rttvarMs: Math.round(tx.rtt.rttvar),
    unacked: tx.sendBuf.length,
    oooBuf: rx.ooo.size,
    peerRecvWin: tx.peerWindowBytes,
    recvWin: rx.windowField() * WINDOW_UNIT_BYTES,
    inRecovery: tx.recovery.inRecovery,
    bytesSent: tx.bytesSent,
    bytesRecv: rx.bytesRecv,
    segsSent: out.segsSent,
    segsRecv: rx.segsRecv,
    retransmits: tx.retransmits,
    fastRetx: c.fastRetx,
    rackLost: c.rackLost,
    tlpProbes: c.tlpProbes,
    timeouts: c.timeouts,
    spuriousRetx: c.spuriousRetx,
    undos: c.undos,
    sackRecv: tx.sackRecv,
    sackSent: out.sackSent,
    dupAcks: c.dupAcks,
  };
}
