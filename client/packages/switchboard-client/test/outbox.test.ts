/** The outbox: resend with the same clientMsgId, ordering, final and retryable errors. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SwitchboardError } from '../src';
import { connectAndSync, flush, makeClient, ME, message, messageId, PEER } from './fakes';

const T = Date.parse('2026-12-01T18:00:00.000Z');

function stored(clientMsgId: string, n = 1, content = 'hi') {
  return message({ id: messageId(T, n), senderId: ME, recipientId: PEER, content, clientMsgId });
}

describe('outbox', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('re-sends an unacked message with the same clientMsgId after a reconnect', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    const sent = h.client.sendMessage(PEER, 'hi');
    await flush();
    const frame = socket.last('send_message');
    const clientMsgId = frame.data.clientMsgId as string;
    expect(clientMsgId).toMatch(/^[0-9a-f-]{36}$/);
    expect(frame.data).toEqual({ recipientId: PEER, content: 'hi', clientMsgId });
    expect(h.client.getSnapshot().outbox).toMatchObject([{ clientMsgId, status: 'sending' }]);

    socket.drop(1001); // the ack never comes
    await flush();
    expect(h.client.getSnapshot().outbox).toMatchObject([{ clientMsgId, status: 'queued' }]);
    await vi.advanceTimersByTimeAsync(1000);
    const next = h.current();
    next.accept();
    await flush();
    expect(next.frames('send_message')).toHaveLength(0); // not before the sync finished
    next.reply(next.last('sync').ack, { messages: [], hasMore: false });
    await flush();
    const resent = next.last('send_message');
    expect(resent.data.clientMsgId).toBe(clientMsgId);
    next.reply(resent.ack, { message: stored(clientMsgId) });
    await expect(sent).resolves.toMatchObject({ clientMsgId, content: 'hi' });
    expect(h.client.getSnapshot().outbox).toEqual([]);
    expect(h.client.getSnapshot().messages).toHaveLength(1);
  });

  it('settles from the sync when the message was stored before the drop', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    const sent = h.client.sendMessage(PEER, 'hi');
    await flush();
    const clientMsgId = socket.last('send_message').data.clientMsgId as string;
    socket.drop();
    await vi.advanceTimersByTimeAsync(1000);
    const next = h.current();
    next.accept();
    await flush();
    next.reply(next.last('sync').ack, { messages: [stored(clientMsgId)], hasMore: false });
    await expect(sent).resolves.toMatchObject({ clientMsgId });
    await flush();
    expect(next.frames('send_message')).toHaveLength(0);
    expect(h.client.getSnapshot().outbox).toEqual([]);
  });

  it('queues while offline and sends in order once connected', async () => {
    const h = makeClient();
    const a = h.client.sendMessage(PEER, 'one');
    const b = h.client.sendMessage(PEER, 'two');
    expect(h.client.getSnapshot().outbox.map((e) => e.content)).toEqual(['one', 'two']);
    const socket = await connectAndSync(h);
    const first = socket.last('send_message');
    expect(first.data.content).toBe('one');
    expect(socket.frames('send_message')).toHaveLength(1); // one at a time keeps the order
    socket.reply(first.ack, { message: stored(first.data.clientMsgId as string, 1, 'one') });
    await flush();
    const second = socket.last('send_message');
    expect(second.data.content).toBe('two');
    socket.reply(second.ack, { message: stored(second.data.clientMsgId as string, 2, 'two') });
    await expect(Promise.all([a, b])).resolves.toHaveLength(2);
  });

  it('marks final errors failed and lets the user retry with the same key', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    const sent = h.client.sendMessage(PEER, 'hi');
    await flush();
    const frame = socket.last('send_message');
    socket.replyError(frame.ack, 'forbidden', 'not a contact');
    await expect(sent).rejects.toMatchObject({ code: 'forbidden' });
    expect(h.client.getSnapshot().outbox).toMatchObject([
      { status: 'failed', error: { code: 'forbidden', message: 'not a contact' } },
    ]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(socket.frames('send_message')).toHaveLength(1);

    const retried = h.client.retryMessage(frame.data.clientMsgId as string);
    await flush();
    const again = socket.last('send_message');
    expect(again.data.clientMsgId).toBe(frame.data.clientMsgId);
    socket.reply(again.ack, { message: stored(frame.data.clientMsgId as string) });
    await expect(retried).resolves.toBeDefined();
  });

  it.each(['unavailable', 'rate_limited', 'internal'])('retries after %s with the same key', async (code) => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    const sent = h.client.sendMessage(PEER, 'hi');
    await flush();
    const frame = socket.last('send_message');
    socket.replyError(frame.ack, code);
    await flush();
    expect(h.client.getSnapshot().outbox).toMatchObject([{ status: 'queued', error: { code } }]);
    await vi.advanceTimersByTimeAsync(999);
    expect(socket.frames('send_message')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    const again = socket.last('send_message');
    expect(again.data.clientMsgId).toBe(frame.data.clientMsgId);
    socket.reply(again.ack, { message: stored(frame.data.clientMsgId as string) });
    await expect(sent).resolves.toBeDefined();
  });

  it('retries a send whose ack timed out, with the same key', async () => {
    const h = makeClient({ ackTimeoutMs: 4000 });
    const socket = await connectAndSync(h);
    const sent = h.client.sendMessage(PEER, 'hi');
    await flush();
    const frame = socket.last('send_message');
    await vi.advanceTimersByTimeAsync(4000);
    expect(h.client.getSnapshot().outbox).toMatchObject([{ status: 'queued', error: { code: 'timeout' } }]);
    socket.reply(frame.ack, { message: stored(frame.data.clientMsgId as string) }); // too late: ignored
    await vi.advanceTimersByTimeAsync(1000);
    const again = socket.last('send_message');
    expect(again.ack).not.toBe(frame.ack);
    expect(again.data.clientMsgId).toBe(frame.data.clientMsgId);
    socket.reply(again.ack, { message: stored(frame.data.clientMsgId as string) });
    await expect(sent).resolves.toBeDefined();
    expect(h.client.getSnapshot().messages).toHaveLength(1);
  });

  it('rejects blank and oversized content without queueing it', async () => {
    const h = makeClient({ maxContentChars: 5 });
    await expect(h.client.sendMessage(PEER, '   ')).rejects.toBeInstanceOf(SwitchboardError);
    await expect(h.client.sendMessage(PEER, '123456')).rejects.toMatchObject({ code: 'too_large' });
    expect(h.client.getSnapshot().outbox).toEqual([]);
  });

  it('discards a failed message', async () => {
    const h = makeClient();
    const socket = await connectAndSync(h);
    const sent = h.client.sendMessage(PEER, 'hi');
    await flush();
    socket.replyError(socket.last('send_message').ack, 'invalid_request');
    await expect(sent).rejects.toMatchObject({ code: 'invalid_request' });
    h.client.discardMessage(h.client.getSnapshot().outbox[0]!.clientMsgId);
    expect(h.client.getSnapshot().outbox).toEqual([]);
  });
});
