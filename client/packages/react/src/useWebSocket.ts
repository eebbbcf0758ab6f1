/**
 * `useWebSocket(options)`: one `SwitchboardClient` for the lifetime of a component, its state
 * as React state, and the actions a chat UI calls. It keeps the shape of the original
 * Socket.IO hook (`socket`, `isConnected`, `onlineUsers`, `messages`, `typingUsers`,
 * `sendMessage`, `markMessageRead`, `emitTyping`, `emitStopTyping`) and adds the connection
 * state, the outbox, history paging and presence.
 *
 * The client is created once; to sign in as someone else, remount (e.g. `key={userId}`).
 * A new `token` value is handed to the client for its next connect.
 */
import {
  type ClientSnapshot,
  type ConnectionState,
  type ConnectionStatus,
  type HistoryState,
  type Message,
  type OutboxEntry,
  type Presence,
  SwitchboardClient,
  type SwitchboardClientOptions,
} from '@switchboard/client';
import { useCallback, useEffect, useMemo, useState, useSyncExternalStore } from 'react';

export interface UseWebSocketOptions extends SwitchboardClientOptions {
  /** Use this client instead of creating one (tests, or a client shared outside React). */
  client?: SwitchboardClient;
  /** Users whose presence is looked up whenever a connection is established. */
  contacts?: readonly string[];
  /** While false the hook does not connect. Default true. */
  enabled?: boolean;
  /** Presence refresh interval while in REST fallback (no push events there). Default 15 000 ms. */
  restPresenceIntervalMs?: number;
}

export interface UseWebSocketResult {
  /** The underlying client, for anything the hook does not expose. */
  socket: SwitchboardClient;
  isConnected: boolean;
  state: ConnectionState;
  status: ConnectionStatus;
  /** Whole seconds until the next reconnect attempt, while `status` is `reconnecting`. */
  secondsUntilRetry: number | null;
  userId: string | null;
  onlineUsers: string[];
  presence: Readonly<Record<string, Presence>>;
  /** `false` when the server does not offer presence: show it as unknown. */
  presenceSupported: boolean | null;
  /** Every known message, oldest first. */
  messages: readonly Message[];
  /** Messages written but not yet acked (or failed). */
  outbox: readonly OutboxEntry[];
  typingUsers: readonly string[];
  history: Readonly<Record<string, HistoryState>>;
  /** Queues a message; resolves with it once stored, or `null` if it failed (see `outbox`). */
  sendMessage: (recipientId: string, content: string) => Promise<Message | null>;
  retryMessage: (clientMsgId: string) => void;
  discardMessage: (clientMsgId: string) => void;
  markMessageRead: (messageId: string) => void;
  markConversationRead: (peerId: string, upToMessageId: string) => void;
  emitTyping: (recipientId: string) => void;
  emitStopTyping: (recipientId: string) => void;
  /** Loads the page before the oldest known message of a conversation. */
  loadOlder: (peerId: string) => Promise<void>;
  lookupPresence: (userIds: readonly string[]) => Promise<Presence[] | null>;
  /** Tells the client a conversation is on screen (REST fallback polls it). */
  watchConversation: (peerId: string) => () => void;
  reconnect: () => void;
  disconnect: () => void;
}

const ignore = (): void => {};

/** Re-renders every `intervalMs` while `intervalMs` is not null; returns the time. */
export function useNow(intervalMs: number | null, now: () => number = Date.now): number {
  const [time, setTime] = useState(now);
  useEffect(() => {
    if (intervalMs === null) return;
    setTime(now());
    const id = setInterval(() => setTime(now()), intervalMs);
    return () => clearInterval(id);
  }, [intervalMs, now]);
  return time;
}

export function useWebSocket(options: UseWebSocketOptions): UseWebSocketResult {
  const [client] = useState(() => options.client ?? new SwitchboardClient(options));
  const enabled = options.enabled ?? true;

  useEffect(() => {
    if (!enabled) return;
    client.connect();
    return () => client.close();
  }, [client, enabled]);

  const { token } = options;
  useEffect(() => {
    client.setToken(token);
  }, [client, token]);

  const snapshot: ClientSnapshot = useSyncExternalStore(client.subscribe, client.getSnapshot, client.getSnapshot);
  const { state } = snapshot;

  // A browser that comes back online should not wait out a long backoff.
  useEffect(() => {
    if (typeof window === 'undefined') return;
    const onOnline = () => {
      const status = client.state.status;
      if (status === 'reconnecting' || status === 'disconnected') client.reconnect();
    };
    window.addEventListener('online', onOnline);
    return () => window.removeEventListener('online', onOnline);
  }, [client]);

  const contactsKey = (options.contacts ?? []).join(',');
  const restPresenceMs = options.restPresenceIntervalMs ?? 15_000;
  const live = state.status === 'connected' || state.status === 'rest-fallback';
  useEffect(() => {
    if (!live || contactsKey === '') return;
    const ids = contactsKey.split(',');
    const lookup = () => void client.getPresence(ids).catch(ignore);
    lookup();
    if (client.state.status !== 'rest-fallback') return;
    const id = setInterval(lookup, restPresenceMs);
    return () => clearInterval(id);
  }, [client, live, state.status, contactsKey, restPresenceMs]);

  const clientNow = useCallback(() => client.now(), [client]);
  const now = useNow(state.status === 'reconnecting' ? 250 : null, clientNow);
  const secondsUntilRetry =
    state.status === 'reconnecting' ? Math.max(0, Math.ceil((state.retryAt - now) / 1000)) : null;

  const actions = useMemo(
    () => ({
      sendMessage: (recipientId: string, content: string) =>
        client.sendMessage(recipientId, content).catch(() => null),
      retryMessage: (clientMsgId: string) => void client.retryMessage(clientMsgId).catch(ignore),
      discardMessage: (clientMsgId: string) => client.discardMessage(clientMsgId),
      markMessageRead: (messageId: string) => void client.markMessageRead(messageId).catch(ignore),
      markConversationRead: (peerId: string, upToMessageId: string) =>
        void client.markConversationRead(peerId, upToMessageId).catch(ignore),
      emitTyping: (recipientId: string) => client.typing(recipientId),
      emitStopTyping: (recipientId: string) => client.stopTyping(recipientId),
      loadOlder: (peerId: string) => client.loadOlder(peerId).then(ignore, ignore),
      lookupPresence: (userIds: readonly string[]) => client.getPresence([...userIds]),
      watchConversation: (peerId: string) => client.watch(peerId),
      reconnect: () => client.reconnect(),
      disconnect: () => client.close(),
    }),
    [client],
  );

  const onlineUsers = useMemo(
    () =>
      Object.values(snapshot.presence)
        .filter((p) => p.online)
        .map((p) => p.userId),
    [snapshot.presence],
  );

  return {
    socket: client,
    isConnected: state.status === 'connected',
    state,
    status: state.status,
    secondsUntilRetry,
    userId: snapshot.userId,
    onlineUsers,
    presence: snapshot.presence,
    presenceSupported: snapshot.presenceSupported,
    messages: snapshot.messages,
    outbox: snapshot.outbox,
    typingUsers: snapshot.typing,
    history: snapshot.history,
    ...actions,
  };
}
