/**
 * Test doubles: a WebSocket the test plays the server side of, and message factories.
 */
import { vi } from 'vitest';
import type { Message, WebSocketLike } from '../src';
import { SwitchboardClient, type SwitchboardClientOptions } from '../src';

export interface SentFrame {
  event: string;
  data: Record<string, unknown>;
  ack?: number;
}

export class FakeSocket implements WebSocketLike {
  readyState = 0;
  readonly sent: SentFrame[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('socket not open');
    this.sent.push(JSON.parse(data) as SentFrame);
  }

  close(code?: number, reason?: string): void {
    this.readyState = 3;
    this.closedWith = { code, reason };
  }

  // ---- the server's side ----

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** Opens and sends `connected`. */
  accept(userId = ME, connectionId = 'conn-1'): void {
    this.open();
    this.push('connected', { userId, connectionId });
  }

  push(event: string, data: unknown): void {
    this.onmessage?.({ data: JSON.stringify({ event, data }) });
  }

  reply(ack: number | undefined, data: unknown): void {
    this.onmessage?.({ data: JSON.stringify({ ack, data }) });
  }

  replyError(ack: number | undefined, code: string, message = code): void {
    this.onmessage?.({ data: JSON.stringify({ ack, error: { code, message } }) });
  }

  /** The server (or the network) closes the socket. */
  drop(code = 1006, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  frames(event: string): SentFrame[] {
    return this.sent.filter((f) => f.event === event);
  }

  last(event: string): SentFrame {
    const frame = this.frames(event).at(-1);
    if (!frame) throw new Error(`no ${event} frame sent; sent: ${this.sent.map((f) => f.event).join(',')}`);
    return frame;
  }
}

export const ME = '018f0000-0000-7000-8000-000000000001';
export const PEER = '018f0000-0000-7000-8000-000000000003';

/** A UUIDv7-shaped id whose time part is `ms` and whose tail is `n`. */
export function messageId(ms: number, n = 0): string {
  const hex = ms.toString(16).padStart(12, '0');
  const tail = n.toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8)}-7000-8000-${tail}`;
}

export function message(partial: Partial<Message> & { id: string }): Message {
  return {
    senderId: PEER,
    recipientId: ME,
    content: 'hello',
    createdAt: '2026-12-01T18:57:36.196Z',
    readAt: null,
    clientMsgId: null,
    ...partial,
  };
}

/** A client wired to fake sockets; `sockets` fills as it connects. */
export function makeClient(options: Partial<SwitchboardClientOptions> = {}) {
  const sockets: FakeSocket[] = [];
  const client = new SwitchboardClient({
    token: 'test-token',
    url: 'ws://gateway.test/ws',
    userId: ME,
    random: () => 0,
    createWebSocket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    ...options,
  });
  const current = (): FakeSocket => {
    const socket = sockets.at(-1);
    if (!socket) throw new Error('no socket yet');
    return socket;
  };
  return { client, sockets, current };
}

/** Lets pending promise callbacks run (the client awaits the token before opening). */
export async function flush(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

/** Connects and answers the initial sync with no messages. */
export async function connectAndSync(harness: ReturnType<typeof makeClient>): Promise<FakeSocket> {
  harness.client.connect();
  await flush();
  const socket = harness.current();
  socket.accept();
  await flush();
  socket.reply(socket.last('sync').ack, { messages: [], hasMore: false });
  await flush();
  return socket;
}
