/**
 * A stream's own timers, apart from loss recovery's (recovery.ts): the dial's SYN schedule, our
 * FIN's retransmissions, close()'s linger, TIME_WAIT, and the keepalive and idle clocks
 * (docs/protocol/transport.md §3, §7, §8). Plain state read and set by the stream's state machine, plus the
 * deadline they give together in each state.
 * @module
 */
import {
  FIN_MAX_TRANSMISSIONS,
  IDLE_TIMEOUT_MS,
  KEEPALIVE_GRANULARITY_MS,
  KEEPALIVE_MS,
  KEEPALIVE_SLACK_MS,
  SYN_MAX_TRANSMISSIONS,
  SYN_RTO_INITIAL_MS,
  SYN_RTO_MAX_MS,
  TIME_WAIT_GRANULARITY_MS,
  TIME_WAIT_MS,
} from "./stream_constants.ts";
import type { StreamState } from "./stream_types.ts";

/**
 * The first multiple of `step` at or after `at`: deadlines on a shared grid of the daemon's clock
 * fall due together, in one wake-up for all the connections that have one there.
 */
function onGrid(at: number, step: number): number {
  return Math.ceil(at / step) * step;
}

/** The connection-lifecycle timers of one stream (all times in the session clock's ms). */
export class LifecycleTimers {
  /** Last time the connection made progress either way (the idle timeout counts from here). */
  lastActivity = 0;
  /** Last time we sent anything (keepalives count from here, so one side's never silence the other's). */
  lastSentAt = 0;
  /** SYNs sent for the dial, the current SYN timeout (doubling) and when it runs out. */
  synAttempts = 0;
  synRto = SYN_RTO_INITIAL_MS;
  synDeadline = Infinity;
  /** Our FIN: whether it went out, when it last did, and how many times. */
  finSent = false;
  finSentAt = 0;
  finAttempts = 0;
  /** close(): when still-undelivered data is given up on (then RST). */
  lingerUntil = Infinity;
  /** TIME_WAIT: when the 4-tuple is released. */
  timeWaitUntil = Infinity;

  /** The first SYN of a dial went out at `now`. */
  synSent(now: number): void {
    this.synAttempts = 1;
    this.synRto = SYN_RTO_INITIAL_MS;
    this.synDeadline = now + this.synRto;
  }

  /** True when the dial has sent every SYN it may. */
  get synExhausted(): boolean {
    return this.synAttempts >= SYN_MAX_TRANSMISSIONS;
  }

  /** Another SYN goes out at `now`, with the timeout doubled (capped). */
  synResent(now: number): void {
    this.synAttempts++;
    this.synRto = Math.min(this.synRto * 2, SYN_RTO_MAX_MS);
    this.synDeadline = now + this.synRto;
  }

  /** Our first FIN went out at `now`. */
  finOut(now: number): void {
    this.finSent = true;
    this.finAttempts = 1;
    this.finSentAt = now;
  }

  /** True when our FIN went out as many times as it may (then TIME_WAIT without its ACK). */
  get finExhausted(): boolean {
    return this.finAttempts >= FIN_MAX_TRANSMISSIONS;
  }

  /** Our FIN went out again at `now`. */
  finResent(now: number): void {
    this.finAttempts++;
    this.finSentAt = now;
  }

  /** When a keepalive is due, if nothing else is sent before (see KEEPALIVE_GRANULARITY_MS). */
  get keepaliveAt(): number {
    return onGrid(this.lastSentAt + KEEPALIVE_MS - KEEPALIVE_SLACK_MS, KEEPALIVE_GRANULARITY_MS);
  }

  /** TIME_WAIT starts at `now`: it ends on the grid of TIME_WAIT_GRANULARITY_MS, TIME_WAIT_MS on at least. */
  startTimeWait(now: number): void {
    this.timeWaitUntil = onGrid(now + TIME_WAIT_MS, TIME_WAIT_GRANULARITY_MS);
  }

  /** The lifecycle deadline in `state` (`rto`: the current retransmission timeout). */
  deadline(state: StreamState, rto: number): number {
    switch (state) {
      case "SYN_SENT":
        return this.synDeadline;
      case "TIME_WAIT":
        return this.timeWaitUntil;
      case "ESTABLISHED":
        return Math.min(this.lastActivity + IDLE_TIMEOUT_MS, this.keepaliveAt);
      case "FIN_WAIT":
        return this.finSent ? this.finSentAt + rto : this.lingerUntil;
      default:
        return Infinity;
    }
  }
}
