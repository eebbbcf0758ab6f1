/** Acks and timeouts, history paging, read receipts and presence lookups. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SwitchboardError } from '../src';
import { connectAndSync, flush, makeClient, ME, message, messageId, PEER } from './fakes';

describe('acks', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('rejects with a timeout error when no ack comes in time', async () => {
    const h = makeClient({ ackTimeoutMs: 2000 });
    const socket = await connectAndSync(h);
    const result = h.client.request('history', { peerId: PEER }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1999);
    socket.reply(999, {}); // an ack for nobody is ignored
    await vi.advanceTimersByTimeAsync(1);
    const error = await result;
    expect(error).toBeInstanceOf(SwitchboardError);
    expect(error).toMatchObject({ code: 'timeout' });
    socket.reply(socket.last('history').ack, { messages: [], hasMore: false }); // late: ignored
  });

  it('resolves with the ack data and rejects error acks with their code', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    const ok = h.client.request('mark_message_read', { messageId: 'm' });
    socket.reply(socket.last('mark_message_read').ack, { messageId: 'm', readAt: 't' });
    await expect(ok).resolves.toEqual({ messageId: 'm', readAt: 't' });
    const bad = h.client.request('mark_message_read', { messageId: 'x' });
    socket.replyError(socket.last('mark_message_read').ack, 'not_found', 'no such message');
    await expect(bad).rejects.toMatchObject({ code: 'not_found', message: 'no such message' });
  });

  it('rejects pending commands when the socket drops, and refuses when offline', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    const pending = h.client.request('sync', {});
    socket.drop();
    await expect(pending).rejects.toMatchObject({ code: 'disconnected' });
    await expect(h.client.request('sync', {})).rejects.toMatchObject({ code: 'disconnected' });
  });

  it('loads older history before the oldest known message', async () => {
    const h = makeClient({ historyPageSize: 2 });
    const socket = await connectAndSync(h);
    socket.push('message_received', message({ id: messageId(5000) }));
    const page = h.client.loadOlder(PEER);
    expect(h.client.getSnapshot().history[PEER]).toMatchObject({ loading: true });
    const frame = socket.last('history');
    expect(frame.data).toEqual({ peerId: PEER, before: messageId(5000), limit: 2 });
    socket.reply(frame.ack, {
      messages: [message({ id: messageId(4000), senderId: ME, recipientId: PEER }), message({ id: messageId(3000) })],
      hasMore: false,
    });
    await page;
    expect(h.client.conversation(PEER).map((m) => m.id)).toEqual([messageId(3000), messageId(4000), messageId(5000)]);
    expect(h.client.getSnapshot().history[PEER]).toEqual({ loading: false, loaded: true, hasMore: false });
    await h.client.loadOlder(PEER); // nothing more: no request
    expect(socket.frames('history')).toHaveLength(1);
    expect(h.client.cursor).toBe(messageId(5000)); // history does not move the sync cursor
  });

  it('marks messages read once and records readAt', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    const id = messageId(1000);
    socket.push('message_received', message({ id }));
    const a = h.client.markMessageRead(id);
    const b = h.client.markMessageRead(id);
    expect(socket.frames('mark_message_read')).toHaveLength(1);
    socket.reply(socket.last('mark_message_read').ack, { messageId: id, readAt: '2026-12-01T18:00:01.000Z' });
    await Promise.all([a, b]);
    expect(h.client.conversation(PEER)[0]?.readAt).toBe('2026-12-01T18:00:01.000Z');
    await h.client.markMessageRead(id);
    expect(socket.frames('mark_message_read')).toHaveLength(1);
  });

  it('marks a conversation read up to a message', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    for (const n of [1, 2, 3]) socket.push('message_received', message({ id: messageId(n * 1000) }));
    const done = h.client.markConversationRead(PEER, messageId(2000));
    const frame = socket.last('mark_conversation_read');
    expect(frame.data).toEqual({ peerId: PEER, upToMessageId: messageId(2000) });
    socket.reply(frame.ack, { count: 2, readAt: '2026-12-01T18:00:05.000Z' });
    await done;
    expect(h.client.conversation(PEER).map((m) => m.readAt !== null)).toEqual([true, true, false]);
  });
});

describe('presence', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('answers null when the server has no presence yet', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    const lookup = h.client.getPresence([PEER]);
    socket.replyError(socket.last('get_presence').ack, 'invalid_request', 'unknown event "get_presence"');
    await expect(lookup).resolves.toBeNull();
    expect(h.client.getSnapshot().presenceSupported).toBe(false);
  });

  it('merges lookups and online/offline events', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    const lookup = h.client.getPresence([PEER]);
    socket.reply(socket.last('get_presence').ack, {
      presence: [{ userId: PEER, online: false, lastSeenAt: '2026-12-01T17:00:00.000Z' }],
    });
    await lookup;
    expect(h.client.getSnapshot().presence[PEER]?.online).toBe(false);
    socket.push('user_online', { userId: PEER });
    expect(h.client.getSnapshot().presence[PEER]).toEqual({
      userId: PEER,
      online: true,
      lastSeenAt: '2026-12-01T17:00:00.000Z',
    });
    socket.push('user_offline', { userId: PEER, lastSeenAt: '2026-12-01T18:00:00.000Z' });
    expect(h.client.getSnapshot().presence[PEER]).toMatchObject({ online: false, lastSeenAt: '2026-12-01T18:00:00.000Z' });
    await flush();
  });
});
