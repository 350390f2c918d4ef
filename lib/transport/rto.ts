/**
 * Retransmission-timeout estimator (RFC 6298, docs/protocol/transport.md §6.2): smoothed RTT
 * and RTT variance from Karn-filtered samples, RTO = SRTT + max(G, 4·RTTVAR)
 * clamped to [200 ms, 10 s], initial 1 s, doubled on timeout. Times are in
 * milliseconds (fractions allowed).
 * @module
 */

/** RTO before the first RTT sample. */
export const RTO_INITIAL_MS = 1_000;
/** Lower clamp of the RTO. */
export const RTO_MIN_MS = 200;
/** Upper clamp of the RTO (also the cap of the exponential backoff). */
export const RTO_MAX_MS = 10_000;
/** Clock granularity G: the variance term is never smaller than this. */
export const RTO_GRANULARITY_MS = 10;

/** RTTVAR gain β = 1/4 and SRTT gain α = 1/8 (RFC 6298 §2.3). */
const BETA = 0.25;
const ALPHA = 0.125;

/**
 * One connection's RTT state. Feed it samples from segments that were sent once
 * (Karn's rule is the caller's job), call {@link RtoEstimator.backoff} when the
 * retransmission timer expires, and read {@link RtoEstimator.rto}. A new sample
 * recomputes the RTO from SRTT/RTTVAR, which also undoes any backoff.
 */
export class RtoEstimator {
  /** Smoothed RTT in ms (0 until the first sample). */
  srtt = 0;
  /** RTT variance in ms (0 until the first sample). */
  rttvar = 0;
  /** Current retransmission timeout in ms. */
  rto = RTO_INITIAL_MS;
  /** Whether any sample has been taken. */
  hasSample = false;

  /** Folds in one RTT measurement (ms). Negative or non-finite samples are ignored. */
  sample(rttMs: number): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
    if (!this.hasSample) {
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
      this.hasSample = true;
    } else {
      this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - rttMs);
      this.srtt = (1 - ALPHA) * this.srtt + ALPHA * rttMs;
    }
    this.rto = clampRto(this.srtt + Math.max(RTO_GRANULARITY_MS, 4 * this.rttvar));
  }

  /** Doubles the RTO after a timeout, capped at {@link RTO_MAX_MS}. */
  backoff(): void {
    this.rto = Math.min(this.rto * 2, RTO_MAX_MS);
  }
}

/** Clamps a computed RTO to [RTO_MIN_MS, RTO_MAX_MS]. */
export function clampRto(ms: number): number {
  return Math.min(RTO_MAX_MS, Math.max(RTO_MIN_MS, ms));
}
