/** Backoff schedule, jitter bounds, attempt limit and close-code handling. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, nominalDelay } from '../src';
import { flush, makeClient } from './fakes';

describe('backoff schedule', () => {
  it('doubles from 1 s and caps at 32 s', () => {
    const schedule = Array.from({ length: 10 }, (_, i) => nominalDelay(i + 1));
    expect(schedule).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 32_000, 32_000, 32_000, 32_000]);
    expect(nominalDelay(1000)).toBe(32_000);
  });

  it('keeps jittered delays within [base × (1 − jitter), base]', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const base = nominalDelay(attempt);
      expect(backoffDelay(attempt, {}, () => 0)).toBe(base);
      const shortest = backoffDelay(attempt, {}, () => 0.999_999);
      expect(shortest).toBeGreaterThanOrEqual(Math.floor(base * (1 - DEFAULT_BACKOFF.jitter)));
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt);
        expect(d).toBeGreaterThanOrEqual(Math.floor(base * 0.7));
        expect(d).toBeLessThanOrEqual(base);
      }
    }
  });

  it('honours custom options', () => {
    expect(nominalDelay(3, { initialMs: 100, maxMs: 250 })).toBe(250);
    expect(backoffDelay(2, { initialMs: 100, jitter: 0.5 }, () => 0.5)).toBe(150);
    expect(DEFAULT_BACKOFF.maxAttempts).toBe(10);
  });
});

describe('reconnection', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries 10 times on the backoff schedule, then stops as disconnected', async () => {
    const { client, sockets, current } = makeClient();
    client.connect();
    await flush();
    current().accept();
    await flush();
    current().drop(1001, 'going away');

    const waits: number[] = [];
    for (let attempt = 1; attempt <= 10; attempt++) {
      const state = client.state;
      expect(state.status).toBe('reconnecting');
      if (state.status !== 'reconnecting') return;
      expect(state.attempt).toBe(attempt);
      waits.push(state.retryAt - Date.now());
      const before = sockets.length;
      await vi.advanceTimersByTimeAsync(state.retryAt - Date.now() - 1);
      expect(sockets.length).toBe(before); // not a millisecond early
      await vi.advanceTimersByTimeAsync(1);
      expect(sockets.length).toBe(before + 1);
      expect(client.state.status).toBe('connecting');
      current().drop(1006);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 32_000, 32_000, 32_000, 32_000]);
    expect(client.state).toMatchObject({ status: 'disconnected', reason: 'gave up after 10 attempts' });
    await vi.advanceTimersByTimeAsync(120_000);
    expect(sockets.length).toBe(11);

    // A manual reconnect starts over.
    client.reconnect();
    await flush();
    expect(sockets.length).toBe(12);
    current().accept();
    expect(client.state.status).toBe('connected');
  });

  it('takes the attempt count from the options and resets it after a connect', async () => {
    const { client, current } = makeClient({ backoff: { maxAttempts: 2 } });
    client.connect();
    await flush();
    current().accept();
    current().drop();
    await vi.advanceTimersByTimeAsync(1000);
    current().accept(); // succeeded on the first retry: the schedule starts again
    current().drop();
    expect(client.state).toMatchObject({ status: 'reconnecting', attempt: 1 });
    await vi.advanceTimersByTimeAsync(1000);
    current().drop();
    await vi.advanceTimersByTimeAsync(2000);
    current().drop();
    expect(client.state.status).toBe('disconnected');
  });

  it('does not retry after 4001 and reports unauthorized', async () => {
    const { client, sockets, current } = makeClient();
    client.connect();
    await flush();
    current().accept();
    current().drop(4001, 'token expired');
    expect(client.state).toEqual({ status: 'unauthorized', reason: 'token expired' });
    await vi.advanceTimersByTimeAsync(600_000);
    expect(sockets.length).toBe(1);
  });

  it('reconnects after the other close codes', async () => {
    for (const code of [1001, 1009, 1013, 4008, 1006]) {
      const { client, sockets, current } = makeClient();
      client.connect();
      await flush();
      current().accept();
      current().drop(code, 'x');
      expect(client.state.status).toBe('reconnecting');
      await vi.advanceTimersByTimeAsync(1000);
      expect(sockets.length).toBe(2);
      client.close();
    }
  });

  it('puts the token in the query by default, or in a first frame', async () => {
    const query = makeClient();
    query.client.connect();
    await flush();
    expect(new URL(query.current().url).searchParams.get('token')).toBe('test-token');

    const frame = makeClient({ tokenTransport: 'frame', token: async () => 'fresh' });
    frame.client.connect();
    await flush();
    const socket = frame.current();
    expect(new URL(socket.url).searchParams.has('token')).toBe(false);
    socket.open();
    expect(socket.sent[0]).toEqual({ event: 'auth', data: { token: 'fresh' } });
  });

  it('resolves relative URLs against the page, http to ws', async () => {
    const { client, current } = makeClient({ url: '/ws', location: { href: 'https://chat.example/app/' } });
    client.connect();
    await flush();
    expect(current().url).toBe('wss://chat.example/ws?token=test-token');
  });

  it('gives up on a socket that never says connected', async () => {
    const { client, sockets, current } = makeClient({ connectTimeoutMs: 5000 });
    client.connect();
    await flush();
    current().open();
    await vi.advanceTimersByTimeAsync(5000);
    expect(sockets[0]?.closedWith).not.toBeNull();
    expect(client.state.status).toBe('reconnecting');
  });
});
