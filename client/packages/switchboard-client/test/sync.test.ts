/** The message store, the resume cursor, and paged sync after every connect. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MessageStore, resumeCursor, uuidv7Floor, uuidv7Time } from '../src';
import { connectAndSync, flush, makeClient, ME, message, messageId, PEER } from './fakes';

const T = Date.parse('2026-12-01T18:00:00.000Z');
const ids = Array.from({ length: 6 }, (_, i) => messageId(T + i * 1000, i));

describe('message store', () => {
  it('dedupes by id and only ever sets readAt', () => {
    const store = new MessageStore();
    expect(store.upsert(message({ id: ids[1]! }), true)).toBe('added');
    expect(store.upsert(message({ id: ids[0]! }), true)).toBe('added');
    expect(store.upsert(message({ id: ids[1]! }), true)).toBe('unchanged');
    expect(store.upsert(message({ id: ids[1]!, readAt: '2026-12-01T19:00:00.000Z' }), true)).toBe('updated');
    expect(store.upsert(message({ id: ids[1]!, readAt: null }), true)).toBe('unchanged');
    expect(store.get(ids[1]!)?.readAt).toBe('2026-12-01T19:00:00.000Z');
    expect(store.all().map((m) => m.id)).toEqual([ids[0], ids[1]]);
    expect(store.cursor).toBe(ids[1]);
  });

  it('moves the cursor only for stream messages', () => {
    const store = new MessageStore();
    store.upsert(message({ id: ids[2]! }), true);
    store.upsert(message({ id: ids[5]! }), false);
    expect(store.cursor).toBe(ids[2]);
  });

  it('resumes a little before the last id seen', () => {
    const last = ids[5]!;
    expect(uuidv7Time(last)).toBe(T + 5000);
    expect(resumeCursor(last, 2000)).toBe(uuidv7Floor(T + 3000));
    expect(resumeCursor(last, 2000) < ids[3]!).toBe(true);
    expect(resumeCursor(last, 0)).toBe(last);
    expect(resumeCursor('not-a-uuid', 2000)).toBe('not-a-uuid');
  });
});

describe('sync after connect', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('pages the first sync until hasMore is false and dedupes', async () => {
    const h = makeClient({ syncPageSize: 2 });
    h.client.connect();
    await flush();
    const socket = h.current();
    socket.accept();
    await flush();
    const first = socket.last('sync');
    expect(first.data).toEqual({ limit: 2 });
    // A live delivery overtakes the sync: it must not show twice.
    socket.push('message_received', message({ id: ids[1]! }));
    socket.reply(first.ack, { messages: [message({ id: ids[0]! }), message({ id: ids[1]! })], hasMore: true });
    await flush();
    const second = socket.last('sync');
    expect(second.data).toEqual({ after: ids[1], limit: 2 });
    socket.reply(second.ack, {
      messages: [message({ id: ids[1]! }), message({ id: ids[2]!, senderId: ME, recipientId: PEER })],
      hasMore: false,
    });
    await flush();
    expect(socket.frames('sync')).toHaveLength(2);
    expect(h.client.getSnapshot().messages.map((m) => m.id)).toEqual([ids[0], ids[1], ids[2]]);
    expect(h.client.cursor).toBe(ids[2]);
  });

  it('syncs from the last id seen after every reconnect, without duplicates', async () => {
    const h = makeClient({ syncOverlapMs: 0 });
    const synced: number[] = [];
    h.client.on('synced', ({ count }) => synced.push(count));
    const socket = await connectAndSync(h);
    socket.push('message_received', message({ id: ids[0]! }));
    socket.push('message_received', message({ id: ids[1]! }));
    socket.push('message_received', message({ id: ids[1]! })); // at-least-once
    socket.drop(1001, 'going away');
    await vi.advanceTimersByTimeAsync(1000);
    const next = h.current();
    expect(next).not.toBe(socket);
    next.accept('018f0000-0000-7000-8000-000000000001', 'conn-2');
    await flush();
    const sync = next.last('sync');
    expect(sync.data).toEqual({ after: ids[1], limit: 100 });
    next.reply(sync.ack, {
      messages: [message({ id: ids[1]! }), message({ id: ids[2]! }), message({ id: ids[3]! })],
      hasMore: false,
    });
    await flush();
    expect(h.client.getSnapshot().messages.map((m) => m.id)).toEqual(ids.slice(0, 4));
    expect(synced).toEqual([0, 2]);
  });

  it('starts a resumed sync slightly before the cursor by default', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    socket.push('message_received', message({ id: ids[5]! }));
    socket.drop();
    await vi.advanceTimersByTimeAsync(1000);
    h.current().accept();
    await flush();
    expect(h.current().last('sync').data).toEqual({ after: uuidv7Floor(T + 0), limit: 100 });
  });

  it('retries a failed sync on the same connection', async () => {
    const h = makeClient();
    h.client.connect();
    await flush();
    const socket = h.current();
    socket.accept();
    await flush();
    socket.replyError(socket.last('sync').ack, 'unavailable');
    await flush();
    expect(socket.frames('sync')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(socket.frames('sync')).toHaveLength(2);
  });

  it('applies read receipts and live events from other devices', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    socket.push('message_sent', message({ id: ids[0]!, senderId: ME, recipientId: PEER }));
    socket.push('message_read', { messageId: ids[0], readerId: PEER, readAt: '2026-12-01T18:10:00.000Z' });
    await flush();
    expect(h.client.getSnapshot().messages[0]?.readAt).toBe('2026-12-01T18:10:00.000Z');
  });
});
