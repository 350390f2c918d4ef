/**
 * The primary's view of its standbys' acknowledgements and, in sync mode, the
 * writes whose replies wait for one: a write is released as soon as any
 * standby has its event on disk, or reported unreplicated after the timeout.
 * @module
 */
import type { StandbyInfo } from "./protocol.ts";

/** Standbys by id with their acknowledged sequence, and the writes waiting on them. */
export class SyncAcks {
  readonly standbys = new Map<string, StandbyInfo>();
  #waiters: { seq: number; resolve: (ok: boolean) => void }[] = [];
  /** Sync writes that timed out before any standby acknowledged them. */
  unreplicated = 0;

  /** Resolves true once a standby has acknowledged `seq`, false after `timeoutMs`. */
  wait(seq: number, timeoutMs: number): Promise<boolean> {
    if (this.#maxAck() >= seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = { seq, resolve };
      this.#waiters.push(w);
      setTimeout(() => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) {
          this.#waiters.splice(i, 1);
          this.unreplicated++;
          resolve(false);
        }
      }, timeoutMs);
    });
  }

  /** Records a standby's latest fetch and releases the writes it now covers. */
  record(info: StandbyInfo): void {
    this.standbys.set(info.id, info);
    this.release();
  }

  /** Releases covered writes; with `all`, fails the rest (this registry stopped being primary or closed). */
  release(all = false): void {
    if (this.#waiters.length === 0) return;
    const acked = this.#maxAck();
    this.#waiters = this.#waiters.filter((w) => {
      if (w.seq <= acked) w.resolve(true);
      else if (all) w.resolve(false);
      else return true;
      return false;
    });
  }

  #maxAck(): number {
    let max = 0;
    for (const s of this.standbys.values()) max = Math.max(max, s.acked_seq);
    return max;
  }
}
