/** Typing: the 3 s send throttle, the idle stop, and the 6 s receiver expiry. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock, TypingThrottle, TypingTracker } from '../src';
import { connectAndSync, flush, makeClient, message, messageId, PEER } from './fakes';

describe('typing', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends user_typing at most every 3 s while typing', () => {
    const sent: string[] = [];
    const throttle = new TypingThrottle((event) => sent.push(event), systemClock);
    const at: number[] = [];
    for (let t = 0; t <= 7000; t += 250) {
      if (throttle.typing(PEER)) at.push(t);
      vi.advanceTimersByTime(250);
    }
    expect(at).toEqual([0, 3000, 6000]);
    expect(sent).toEqual(['user_typing', 'user_typing', 'user_typing']);
    expect(throttle.stop(PEER)).toBe(true);
    expect(throttle.stop(PEER)).toBe(false); // only once
    expect(sent.at(-1)).toBe('user_stop_typing');
    expect(throttle.typing(PEER)).toBe(true); // a new burst starts at once
  });

  it('sends user_stop_typing after a pause in typing', () => {
    const sent: string[] = [];
    const throttle = new TypingThrottle((event) => sent.push(event), systemClock, { idleStopMs: 5000 });
    throttle.typing(PEER);
    vi.advanceTimersByTime(4000);
    throttle.typing(PEER); // the pause restarts here
    vi.advanceTimersByTime(4999);
    expect(sent).toEqual(['user_typing', 'user_typing']);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual(['user_typing', 'user_typing', 'user_stop_typing']);
  });

  it('hides an indicator 6 s after the last user_typing', () => {
    const changes: [string, boolean][] = [];
    const tracker = new TypingTracker(systemClock, (u, t) => changes.push([u, t]));
    tracker.start(PEER);
    vi.advanceTimersByTime(5000);
    tracker.start(PEER); // repeated: extends, no new change
    vi.advanceTimersByTime(5999);
    expect(tracker.isTyping(PEER)).toBe(true);
    vi.advanceTimersByTime(1);
    expect(tracker.isTyping(PEER)).toBe(false);
    expect(changes).toEqual([
      [PEER, true],
      [PEER, false],
    ]);
  });

  it('tracks peers typing through the client', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    socket.push('user_typing', { userId: PEER });
    expect(h.client.getSnapshot().typing).toEqual([PEER]);
    socket.push('user_stop_typing', { userId: PEER });
    expect(h.client.getSnapshot().typing).toEqual([]);
    socket.push('user_typing', { userId: PEER });
    await vi.advanceTimersByTimeAsync(6000);
    expect(h.client.getSnapshot().typing).toEqual([]);
    socket.push('user_typing', { userId: PEER });
    socket.push('message_received', message({ id: messageId(1) })); // the message ends it
    expect(h.client.getSnapshot().typing).toEqual([]);
  });

  it('throttles through the client and stops when the server lacks typing', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    h.client.typing(PEER);
    h.client.typing(PEER);
    expect(socket.frames('user_typing')).toHaveLength(1);
    expect(socket.last('user_typing').data).toEqual({ recipientId: PEER });
    socket.replyError(socket.last('user_typing').ack, 'invalid_request', 'unknown event "user_typing"');
    await flush();
    await vi.advanceTimersByTimeAsync(3000);
    h.client.typing(PEER);
    expect(socket.frames('user_typing')).toHaveLength(1);
  });
});
