/**
 * Typing indicators (SPEC §2.4). The sending side repeats `user_typing` at most every 3 s
 * while the user types and sends `user_stop_typing` when they stop (or after a pause); the
 * receiving side shows a peer as typing until `user_stop_typing`, or 6 s after the last
 * `user_typing`, whichever comes first — so a lost stop event never leaves a ghost.
 */
import type { Clock, TimerHandle } from './clock';

export interface TypingOptions {
  /** Least time between two `user_typing` to one recipient. Default 3000 ms. */
  intervalMs?: number;
  /** Send `user_stop_typing` after this long without a keystroke. Default 5000 ms. */
  idleStopMs?: number;
  /** Receiver side: hide a peer's indicator this long after their last `user_typing`. Default 6000 ms. */
  expiryMs?: number;
}

type TypingEvent = 'user_typing' | 'user_stop_typing';

/** Sender side: turns keystrokes into at most one `user_typing` per interval. */
export class TypingThrottle {
  private readonly active = new Map<string, { lastSentAt: number; idle: TimerHandle }>();
  private readonly intervalMs: number;
  private readonly idleStopMs: number;

  constructor(
    private readonly send: (event: TypingEvent, recipientId: string) => void,
    private readonly clock: Clock,
    options: TypingOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 3000;
    this.idleStopMs = options.idleStopMs ?? 5000;
  }

  /** Call on every keystroke; returns whether a `user_typing` went out. */
  typing(recipientId: string): boolean {
    const now = this.clock.now();
    const state = this.active.get(recipientId);
    if (state) this.clock.clearTimeout(state.idle);
    const idle = this.clock.setTimeout(() => this.stop(recipientId), this.idleStopMs);
    if (state && now - state.lastSentAt < this.intervalMs) {
      state.idle = idle;
      return false;
    }
    this.active.set(recipientId, { lastSentAt: now, idle });
    this.send('user_typing', recipientId);
    return true;
  }

  /** Call when the user sends, clears the input or leaves; returns whether a stop went out. */
  stop(recipientId: string): boolean {
    const state = this.active.get(recipientId);
    if (!state) return false;
    this.clock.clearTimeout(state.idle);
    this.active.delete(recipientId);
    this.send('user_stop_typing', recipientId);
    return true;
  }

  /** Forgets everything without sending (the connection is gone). */
  reset(): void {
    for (const state of this.active.values()) this.clock.clearTimeout(state.idle);
    this.active.clear();
  }
}

/** Receiver side: who is typing to us right now. */
export class TypingTracker {
  private readonly timers = new Map<string, TimerHandle>();
  private readonly expiryMs: number;

  constructor(
    private readonly clock: Clock,
    private readonly onChange: (userId: string, typing: boolean) => void,
    options: TypingOptions = {},
  ) {
    this.expiryMs = options.expiryMs ?? 6000;
  }

  get users(): string[] {
    return [...this.timers.keys()];
  }

  isTyping(userId: string): boolean {
    return this.timers.has(userId);
  }

  start(userId: string): void {
    const existing = this.timers.get(userId);
    if (existing !== undefined) this.clock.clearTimeout(existing);
    this.timers.set(
      userId,
      this.clock.setTimeout(() => this.stop(userId), this.expiryMs),
    );
    if (existing === undefined) this.onChange(userId, true);
  }

  stop(userId: string): void {
    const existing = this.timers.get(userId);
    if (existing === undefined) return;
    this.clock.clearTimeout(existing);
    this.timers.delete(userId);
    this.onChange(userId, false);
  }

  clear(): void {
    for (const userId of [...this.timers.keys()]) this.stop(userId);
  }
}
