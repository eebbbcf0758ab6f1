/**
 * `RealtimeChat`: the chat pane for one conversation.
 *
 * It shows the conversation oldest-first with relative times, ✓ sent / ✓✓ read, pending and
 * failed messages from the outbox; the peer's presence and typing; the connection state.
 * It keeps the newest message in view unless the user has scrolled up to read older ones,
 * loads older pages when scrolled to the top, and marks received messages read once they
 * are actually visible (IntersectionObserver). Content is always rendered as text.
 *
 * The connection comes from the `chat` prop or from a surrounding `SwitchboardProvider`.
 */
import { isBetween, type Message, type OutboxEntry } from '@switchboard/client';
import { AlertCircle, ArrowDown, Check, CheckCheck, Clock, RefreshCw, SendHorizontal, X } from 'lucide-react';
import {
  type FormEvent,
  type KeyboardEvent,
  useCallback,
  useEffect,
  useId,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import { useOptionalSwitchboard } from './context';
import { absoluteTime, connectionLabel, presenceLabel, relativeTime } from './format';
import { useNow, type UseWebSocketResult } from './useWebSocket';

export interface RealtimeChatProps {
  /** The other person in the conversation. */
  recipientId: string;
  /** Their display name; defaults to the start of their id. */
  recipientName?: string;
  /** The connection; defaults to the nearest `SwitchboardProvider`. */
  chat?: UseWebSocketResult;
  /** Longest message accepted, mirroring the server. Default 5000. */
  maxLength?: number;
  className?: string;
}

type Item =
  | { kind: 'message'; key: string; message: Message; mine: boolean }
  | { kind: 'pending'; key: string; entry: OutboxEntry };

/** How close to the bottom (px) still counts as "reading the newest". */
const STICK_PX = 48;
/** How close to the top (px) starts loading older messages. */
const LOAD_OLDER_PX = 64;

export function RealtimeChat(props: RealtimeChatProps) {
  const fromContext = useOptionalSwitchboard();
  const chat = props.chat ?? fromContext;
  if (!chat) throw new Error('RealtimeChat needs a `chat` prop or a <SwitchboardProvider>');
  return <ChatPane {...props} chat={chat} />;
}

function ChatPane({
  recipientId,
  recipientName,
  chat,
  maxLength = 5000,
  className = '',
}: RealtimeChatProps & { chat: UseWebSocketResult }) {
  const name = recipientName ?? recipientId.slice(0, 8);
  const me = chat.userId;
  const now = useNow(30_000);

  const items = useMemo<Item[]>(() => {
    const conversation = chat.messages.filter((m) => isBetween(m, me, recipientId));
    const stored = new Set(conversation.map((m) => m.clientMsgId).filter((id) => id !== null));
    const list: Item[] = conversation.map((message) => ({
      kind: 'message',
      key: message.id,
      message,
      mine: me !== null ? message.senderId === me : message.recipientId === recipientId,
    }));
    for (const entry of chat.outbox) {
      if (entry.recipientId === recipientId && !stored.has(entry.clientMsgId)) {
        list.push({ kind: 'pending', key: entry.clientMsgId, entry });
      }
    }
    return list;
  }, [chat.messages, chat.outbox, me, recipientId]);

  const history = chat.history[recipientId];
  const { loadOlder, watchConversation, status } = chat;
  const live = status === 'connected' || status === 'rest-fallback';

  // Show this conversation: polled in REST fallback, newest page fetched if none is known.
  useEffect(() => watchConversation(recipientId), [watchConversation, recipientId]);
  // Read through a ref so that a failed load is retried on the next connect, not in a loop.
  const historyRef = useRef(history);
  historyRef.current = history;
  useEffect(() => {
    const current = historyRef.current;
    if (live && !current?.loaded && !current?.loading) void loadOlder(recipientId);
  }, [live, loadOlder, recipientId]);

  // ---- scrolling -----------------------------------------------------------------------
  const listRef = useRef<HTMLDivElement>(null);
  const stickRef = useRef(true);
  const anchorRef = useRef<{ height: number; top: number; firstKey: string | undefined } | null>(null);
  const lastKeyRef = useRef<string | null>(null);
  const [showJump, setShowJump] = useState(false);
  const [announcement, setAnnouncement] = useState('');

  const scrollToBottom = useCallback(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
    stickRef.current = true;
    setShowJump(false);
  }, []);

  const requestOlder = useCallback(() => {
    const el = listRef.current;
    if (!history?.hasMore || history.loading) return;
    if (el) anchorRef.current = { height: el.scrollHeight, top: el.scrollTop, firstKey: items[0]?.key };
    void loadOlder(recipientId);
  }, [history?.hasMore, history?.loading, loadOlder, recipientId, items]);

  const onScroll = () => {
    const el = listRef.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight <= STICK_PX;
    stickRef.current = atBottom;
    if (atBottom) setShowJump(false);
    if (el.scrollTop <= LOAD_OLDER_PX) requestOlder();
  };

  // A new conversation starts at its newest message (declared first: it runs first).
  useLayoutEffect(() => {
    lastKeyRef.current = null;
    stickRef.current = true;
    anchorRef.current = null;
    setShowJump(false);
    setAnnouncement('');
  }, [recipientId]);

  useLayoutEffect(() => {
    const el = listRef.current;
    const last = items[items.length - 1];
    const lastKey = last?.key ?? null;
    const appended = lastKey !== lastKeyRef.current;
    const firstRender = lastKeyRef.current === null;
    lastKeyRef.current = lastKey;
    if (!el) return;
    if (anchorRef.current && !appended && items[0]?.key !== anchorRef.current.firstKey) {
      // Older messages were prepended: keep what the user was reading in place.
      el.scrollTop = anchorRef.current.top + (el.scrollHeight - anchorRef.current.height);
      anchorRef.current = null;
      return;
    }
    if (!appended || !last) return;
    const mineNew = last.kind === 'pending' || last.mine;
    if (stickRef.current || mineNew || firstRender) {
      scrollToBottom();
    } else {
      setShowJump(true);
    }
    if (!firstRender && last.kind === 'message' && !last.mine) {
      setAnnouncement(`New message from ${name}: ${last.message.content}`);
    }
  }, [items, name, scrollToBottom]);

  // ---- read receipts ---------------------------------------------------------------------
  const { markMessageRead, markConversationRead } = chat;
  const unreadKey = items
    .filter((i) => i.kind === 'message' && !i.mine && i.message.readAt === null)
    .map((i) => i.key)
    .join(',');
  useEffect(() => {
    const root = listRef.current;
    if (!root || unreadKey === '') return;
    const seen = new Set<string>();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      timer = null;
      if (seen.size === 0) return;
      const ids = [...seen].sort();
      seen.clear();
      const newest = ids[ids.length - 1];
      if (ids.length === 1 || !newest) for (const id of ids) markMessageRead(id);
      else markConversationRead(recipientId, newest);
    };
    const see = (id: string) => {
      if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return;
      seen.add(id);
      timer ??= setTimeout(flush, 250);
    };
    const elements = [...root.querySelectorAll<HTMLElement>('[data-unread-id]')];
    let observer: IntersectionObserver | null = null;
    if (typeof IntersectionObserver === 'undefined') {
      for (const el of elements) see(el.dataset.unreadId ?? '');
    } else {
      observer = new IntersectionObserver(
        (entries) => {
          for (const entry of entries) {
            const id = (entry.target as HTMLElement).dataset.unreadId;
            if (entry.isIntersecting && id) see(id);
          }
        },
        { root, threshold: 0.6 },
      );
      for (const el of elements) observer.observe(el);
    }
    // A tab in the background reads nothing; coming back re-checks what is on screen.
    const onVisible = () => {
      if (document.visibilityState !== 'visible' || !observer) return;
      for (const el of elements) {
        observer.unobserve(el);
        observer.observe(el);
      }
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      observer?.disconnect();
      document.removeEventListener('visibilitychange', onVisible);
      if (timer) clearTimeout(timer);
      flush();
    };
    // `status`: a receipt that failed while offline is sent again once connected.
  }, [unreadKey, markMessageRead, markConversationRead, recipientId, status]);

  // ---- header ----------------------------------------------------------------------------
  const presence = chat.presence[recipientId];
  const presenceText = presenceLabel(presence, now);
  const typing = chat.typingUsers.includes(recipientId);
  const banner = connectionLabel(chat.state, chat.secondsUntilRetry);
  const headingId = useId();

  return (
    <section
      aria-labelledby={headingId}
      className={`flex h-full min-h-0 w-full min-w-0 flex-col bg-white text-slate-900 ${className}`}
    >
      <header className="flex items-center gap-3 border-b border-slate-200 px-4 py-3">
        <span className="relative inline-flex h-9 w-9 shrink-0 items-center justify-center rounded-full bg-slate-200 text-sm font-semibold uppercase text-slate-700" aria-hidden="true">
          {name.slice(0, 1)}
          {presence?.online ? (
            <span className="absolute -bottom-0.5 -right-0.5 h-3 w-3 rounded-full border-2 border-white bg-green-500" />
          ) : null}
        </span>
        <div className="min-w-0">
          <h2 id={headingId} className="truncate text-base font-semibold">
            {name}
          </h2>
          <p className="truncate text-xs text-slate-500">
            {typing ? (
              <span className="text-sky-700">{name} is typing…</span>
            ) : presenceText ? (
              <span className="inline-flex items-center gap-1">
                {presence?.online ? <span className="h-2 w-2 rounded-full bg-green-500" aria-hidden="true" /> : null}
                {presenceText}
              </span>
            ) : (
              <span>Presence unknown</span>
            )}
          </p>
        </div>
      </header>

      <div role="status" aria-live="polite" className={banner ? 'border-b border-amber-200 bg-amber-50 px-4 py-2 text-sm text-amber-900' : 'sr-only'}>
        {banner ? (
          <span className="flex flex-wrap items-center gap-x-3 gap-y-1">
            <span>{banner}</span>
            {chat.status === 'reconnecting' || chat.status === 'disconnected' || chat.status === 'unauthorized' ? (
              <button
                type="button"
                onClick={chat.reconnect}
                className="inline-flex items-center gap-1 rounded px-2 py-0.5 font-medium text-amber-900 underline underline-offset-2 hover:bg-amber-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-amber-700"
              >
                <RefreshCw className="h-3.5 w-3.5" aria-hidden="true" />
                {chat.status === 'reconnecting' ? 'Retry now' : 'Reconnect'}
              </button>
            ) : null}
          </span>
        ) : null}
      </div>

      <div className="relative min-h-0 flex-1">
        <div
          ref={listRef}
          onScroll={onScroll}
          tabIndex={0}
          aria-label={`Conversation with ${name}`}
          className="h-full overflow-y-auto overscroll-contain px-3 py-4 focus-visible:outline focus-visible:outline-2 focus-visible:-outline-offset-2 focus-visible:outline-sky-600 sm:px-4"
        >
          {history?.hasMore && history.loaded ? (
            <div className="mb-3 flex justify-center">
              <button
                type="button"
                onClick={requestOlder}
                disabled={history.loading}
                className="rounded-full border border-slate-300 px-3 py-1 text-xs text-slate-600 hover:bg-slate-50 focus-visible:outline focus-visible:outline-2 focus-visible:outline-sky-600 disabled:opacity-60"
              >
                {history.loading ? 'Loading…' : 'Load older messages'}
              </button>
            </div>
          ) : null}
          {history?.loading && !history.loaded ? (
            <p className="py-6 text-center text-sm text-slate-500">Loading messages…</p>
          ) : null}
          {items.length === 0 && history?.loaded ? (
            <p className="py-6 text-center text-sm text-slate-500">No messages yet. Say hello to {name}.</p>
          ) : null}
          <ol className="flex flex-col gap-1.5" aria-label="Messages">
            {items.map((item) =>
              item.kind === 'message' ? (
                <MessageBubble key={item.key} message={item.message} mine={item.mine} senderName={name} now={now} />
              ) : (
                <PendingBubble
                  key={item.key}
                  entry={item.entry}
                  onRetry={chat.retryMessage}
                  onDiscard={chat.discardMessage}
                />
              ),
            )}
          </ol>
        </div>
        {showJump ? (
          <button
            type="button"
            onClick={scrollToBottom}
            className="absolute bottom-3 left-1/2 inline-flex -translate-x-1/2 items-center gap-1 rounded-full bg-sky-600 px-3 py-1 text-xs font-medium text-white shadow focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600"
          >
            <ArrowDown className="h-3.5 w-3.5" aria-hidden="true" />
            New messages
          </button>
        ) : null}
      </div>

      <div className="sr-only" aria-live="polite" aria-atomic="true">
        {announcement}
      </div>

      <Composer
        recipientId={recipientId}
        recipientName={name}
        maxLength={maxLength}
        onSend={(text) => {
          stickRef.current = true;
          void chat.sendMessage(recipientId, text);
        }}
        onTyping={chat.emitTyping}
        onStopTyping={chat.emitStopTyping}
      />
    </section>
  );
}

function MessageBubble({
  message,
  mine,
  senderName,
  now,
}: {
  message: Message;
  mine: boolean;
  senderName: string;
  now: number;
}) {
  const read = message.readAt !== null;
  return (
    <li
      className={`flex ${mine ? 'justify-end' : 'justify-start'}`}
      data-message-id={message.id}
      {...(!mine && !read ? { 'data-unread-id': message.id } : {})}
    >
      <div
        className={`max-w-[85%] rounded-2xl px-3 py-2 text-sm shadow-sm sm:max-w-[70%] ${
          mine ? 'rounded-br-sm bg-sky-600 text-white' : 'rounded-bl-sm bg-slate-100 text-slate-900'
        }`}
      >
        <span className="sr-only">{mine ? 'You' : senderName}: </span>
        {/* Always text: React escapes it, and nothing here parses HTML or Markdown. */}
        <p className="whitespace-pre-wrap break-words [overflow-wrap:anywhere]">{message.content}</p>
        <p className={`mt-1 flex items-center justify-end gap-1 text-[11px] ${mine ? 'text-sky-100' : 'text-slate-500'}`}>
          <time dateTime={message.createdAt} title={absoluteTime(message.createdAt)}>
            {relativeTime(message.createdAt, now)}
          </time>
          {mine ? (
            read ? (
              <>
                <CheckCheck className="h-3.5 w-3.5" aria-hidden="true" />
                <span className="sr-only">Read</span>
              </>
            ) : (
              <>
                <Check className="h-3.5 w-3.5" aria-hidden="true" />
                <span className="sr-only">Sent</span>
              </>
            )
          ) : null}
        </p>
      </div>
    </li>
  );
}

function PendingBubble({
  entry,
  onRetry,
  onDiscard,
}: {
  entry: OutboxEntry;
  onRetry: (clientMsgId: string) => void;
  onDiscard: (clientMsgId: string) => void;
}) {
  const failed = entry.status === 'failed';
  return (
    <li className="flex justify-end">
      <div
        className={`max-w-[85%] rounded-2xl rounded-br-sm px-3 py-2 text-sm shadow-sm sm:max-w-[70%] ${
          failed ? 'border border-red-300 bg-red-50 text-red-900' : 'bg-sky-600/70 text-white'
        }`}
      >
        <span className="sr-only">You: </span>
        <p className="whitespace-pre-wrap break-words [overflow-wrap:anywhere]">{entry.content}</p>
        {failed ? (
          <div className="mt-1 flex flex-wrap items-center justify-end gap-2 text-[11px]">
            <span className="inline-flex items-center gap-1">
              <AlertCircle className="h-3.5 w-3.5" aria-hidden="true" />
              Not sent{entry.error ? `: ${entry.error.message}` : ''}
            </span>
            <button
              type="button"
              onClick={() => onRetry(entry.clientMsgId)}
              className="rounded px-1 font-medium underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-red-700"
            >
              Retry
            </button>
            <button
              type="button"
              onClick={() => onDiscard(entry.clientMsgId)}
              aria-label="Discard message"
              className="rounded p-0.5 focus-visible:outline focus-visible:outline-2 focus-visible:outline-red-700"
            >
              <X className="h-3.5 w-3.5" aria-hidden="true" />
            </button>
          </div>
        ) : (
          <p className="mt-1 flex items-center justify-end gap-1 text-[11px] text-sky-50">
            <Clock className="h-3.5 w-3.5" aria-hidden="true" />
            <span>{entry.status === 'sending' ? 'Sending…' : 'Waiting for connection…'}</span>
          </p>
        )}
      </div>
    </li>
  );
}

function Composer({
  recipientId,
  recipientName,
  maxLength,
  onSend,
  onTyping,
  onStopTyping,
}: {
  recipientId: string;
  recipientName: string;
  maxLength: number;
  onSend: (text: string) => void;
  onTyping: (recipientId: string) => void;
  onStopTyping: (recipientId: string) => void;
}) {
  const [text, setText] = useState('');
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const inputId = useId();
  const counterId = useId();
  const length = [...text].length;
  const tooLong = length > maxLength;
  const blank = text.trim() === '';

  // Grow with the text up to a few lines, then scroll.
  useLayoutEffect(() => {
    const el = inputRef.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
  }, [text]);

  useEffect(() => () => onStopTyping(recipientId), [onStopTyping, recipientId]);

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (blank || tooLong) return;
    onSend(text);
    setText('');
    onStopTyping(recipientId);
    inputRef.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  };

  return (
    <form onSubmit={submit} className="flex items-end gap-2 border-t border-slate-200 px-3 py-3 sm:px-4">
      <label htmlFor={inputId} className="sr-only">
        Message to {recipientName}
      </label>
      <div className="min-w-0 flex-1">
        <textarea
          id={inputId}
          ref={inputRef}
          value={text}
          rows={1}
          placeholder={`Message ${recipientName}`}
          aria-describedby={counterId}
          aria-invalid={tooLong || undefined}
          onChange={(event) => {
            setText(event.target.value);
            if (event.target.value.trim() === '') onStopTyping(recipientId);
            else onTyping(recipientId);
          }}
          onBlur={() => onStopTyping(recipientId)}
          onKeyDown={onKeyDown}
          className="block max-h-40 w-full resize-none rounded-xl border border-slate-300 bg-white px-3 py-2 text-sm leading-5 text-slate-900 placeholder:text-slate-400 focus:border-sky-600 focus:outline-none focus:ring-2 focus:ring-sky-600/30"
        />
        <p id={counterId} className={length > maxLength * 0.9 ? `mt-1 text-right text-xs ${tooLong ? 'text-red-700' : 'text-slate-500'}` : 'sr-only'}>
          {length > maxLength * 0.9 ? `${length} / ${maxLength}` : 'Enter sends, Shift+Enter adds a line.'}
        </p>
      </div>
      <button
        type="submit"
        disabled={blank || tooLong}
        aria-label="Send message"
        className="inline-flex h-10 w-10 shrink-0 items-center justify-center rounded-full bg-sky-600 text-white hover:bg-sky-700 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 disabled:cursor-not-allowed disabled:bg-slate-300"
      >
        <SendHorizontal className="h-5 w-5" aria-hidden="true" />
      </button>
    </form>
  );
}
