/**
 * The Switchboard wire protocol (SPEC §2.1, §2.3) as TypeScript types: the message object,
 * the commands a client sends with their ack payloads, and the events the server pushes.
 * Nothing here does I/O; `client.ts` speaks it and `rest.ts` speaks its HTTP mirror.
 */

/** Error codes shared by acks, `error` events and REST error bodies. */
export type ErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'invalid_request'
  | 'not_found'
  | 'too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

export interface WireError {
  code: ErrorCode;
  message: string;
}

/**
 * A stored message. Ids are UUIDv7 strings handed out in commit order, so they compare
 * correctly as strings; times are RFC 3339 UTC with milliseconds.
 */
export interface Message {
  id: string;
  senderId: string;
  recipientId: string;
  content: string;
  createdAt: string;
  /** `null` until the recipient marks it read. */
  readAt: string | null;
  /** The sender's idempotency key, `null` when none was given. */
  clientMsgId: string | null;
}

export interface Presence {
  userId: string;
  online: boolean;
  lastSeenAt: string | null;
}

export interface MessagePage {
  messages: Message[];
  hasMore: boolean;
}

/** Client → server commands: what `data` carries and what a successful ack returns. */
export interface Commands {
  send_message: {
    data: { recipientId: string; content: string; clientMsgId?: string };
    ack: { message: Message };
  };
  mark_message_read: {
    data: { messageId: string };
    ack: { messageId: string; readAt: string };
  };
  mark_conversation_read: {
    data: { peerId: string; upToMessageId: string };
    ack: { count: number; readAt: string };
  };
  user_typing: { data: { recipientId: string }; ack: Record<string, never> };
  user_stop_typing: { data: { recipientId: string }; ack: Record<string, never> };
  /** Everything to or from the user after the cursor, oldest first. */
  sync: { data: { after?: string; limit?: number }; ack: MessagePage };
  /** One conversation, newest first. */
  history: {
    data: { peerId: string; before?: string; limit?: number };
    ack: MessagePage;
  };
  get_presence: { data: { userIds: string[] }; ack: { presence: Presence[] } };
  refresh_token: { data: { token: string }; ack: { expiresAt: string } };
}

export type CommandName = keyof Commands;

/** Server → client events and their `data`. */
export interface ServerEvents {
  connected: { userId: string; connectionId: string };
  message_received: Message;
  message_sent: Message;
  message_read: { messageId: string; readerId: string; readAt: string };
  user_online: { userId: string };
  user_offline: { userId: string; lastSeenAt: string | null };
  user_typing: { userId: string };
  user_stop_typing: { userId: string };
  error: WireError;
}

export type ServerEventName = keyof ServerEvents;

/** WebSocket close codes the server uses, and what a client does about each. */
export const CloseCode = {
  /** Clean close, asked for by one side. */
  Normal: 1000,
  /** The gateway is shutting down: reconnect (the load balancer picks another replica). */
  GoingAway: 1001,
  /** Ping timeout. */
  PolicyViolation: 1008,
  /** A frame over the server's size limit. */
  TooLarge: 1009,
  /** The services behind the gateway are unavailable at connect: retry later. */
  TryAgainLater: 1013,
  /** Authentication failed, timed out or the token expired: a new token is needed. */
  Unauthorized: 4001,
  /** The connection's outbound queue stayed full. */
  SlowConsumer: 4008,
} as const;

/** One decoded server frame. */
export type InboundFrame =
  | { kind: 'event'; event: string; data: unknown }
  | { kind: 'ack'; ack: number; data: unknown }
  | { kind: 'ack-error'; ack: number; error: WireError };

const ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'unauthorized',
  'forbidden',
  'invalid_request',
  'not_found',
  'too_large',
  'rate_limited',
  'unavailable',
  'internal',
]);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && ERROR_CODES.has(value);
}

/** Coerces whatever the server put in an `error` field into a `WireError`. */
export function toWireError(value: unknown): WireError {
  if (value && typeof value === 'object') {
    const v = value as { code?: unknown; message?: unknown };
    return {
      code: isErrorCode(v.code) ? v.code : 'internal',
      message: typeof v.message === 'string' ? v.message : 'unknown error',
    };
  }
  return { code: 'internal', message: 'unknown error' };
}

/** Parses one text frame; `null` for anything that is not a frame of this protocol. */
export function decodeFrame(text: string): InboundFrame | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (!parsed || typeof parsed !== 'object') return null;
  const f = parsed as { event?: unknown; data?: unknown; ack?: unknown; error?: unknown };
  if (typeof f.event === 'string') {
    return { kind: 'event', event: f.event, data: f.data ?? {} };
  }
  if (typeof f.ack === 'number') {
    if (f.error !== undefined) return { kind: 'ack-error', ack: f.ack, error: toWireError(f.error) };
    return { kind: 'ack', ack: f.ack, data: f.data ?? {} };
  }
  return null;
}

export function encodeFrame(event: string, data: unknown, ack?: number): string {
  return JSON.stringify(ack === undefined ? { event, data } : { event, data, ack });
}
