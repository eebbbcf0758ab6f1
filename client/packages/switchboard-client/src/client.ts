/**
 * `SwitchboardClient`: one logical connection of one user to Switchboard.
 *
 * It speaks the native framing (SPEC §2.1) over one WebSocket at a time and keeps what a chat
 * UI needs across connections:
 * - typed commands with acks and timeouts (`request`), rejecting with `SwitchboardError`;
 * - reconnection with jittered exponential backoff; close code 4001 stops it (the token is
 *   bad or expired, retrying with it cannot help) and surfaces the `unauthorized` state;
 * - after every `connected`, a `sync` from the last id seen, paged until `hasMore` is false,
 *   merged into a store that dedupes by id;
 * - an outbox: every `sendMessage` gets a `clientMsgId` and stays queued until acked; after a
 *   reconnect it is sent again with the same key, which the server dedupes;
 * - typing throttling and expiry, presence, read receipts, history pages;
 * - a REST fallback when no WebSocket could be opened at all, polling the conversations the
 *   UI watches and probing the WebSocket now and then to go back to it.
 *
 * Time and the socket are injected (`clock`, `createWebSocket`, `fetch`) so tests drive it
 * with fakes. The state a UI renders is one immutable snapshot (`getSnapshot`/`subscribe`),
 * which fits React's `useSyncExternalStore`.
 */
import { backoffDelay, type BackoffOptions, DEFAULT_BACKOFF } from './backoff';
import { type Clock, type TimerHandle, systemClock } from './clock';
import { Emitter } from './emitter';
import { isFinalError, SwitchboardError, toSwitchboardError } from './errors';
import { jwtSubject, newClientMsgId, resumeCursor } from './ids';
import {
  CloseCode,
  type CommandName,
  type Commands,
  decodeFrame,
  encodeFrame,
  type Message,
  type MessagePage,
  type Presence,
  type ServerEvents,
  type WireError,
} from './protocol';
import { type FetchLike, RestClient } from './rest';
import { isBetween, MessageStore } from './store';
import { type TypingOptions, TypingThrottle, TypingTracker } from './typing';

/** The part of the browser `WebSocket` the client uses; tests pass a fake. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export type ConnectionState =
  | { status: 'idle' }
  /** Opening a socket; `attempt` 1 is the first try, higher ones are retries. */
  | { status: 'connecting'; attempt: number }
  | { status: 'connected'; userId: string; connectionId: string }
  /** Waiting before the next try; `retryAt` is a `clock.now()` time. */
  | { status: 'reconnecting'; attempt: number; retryAt: number; lastClose: CloseInfo }
  /** Stopped: closed by the app, or out of attempts (`reconnect()` starts again). */
  | { status: 'disconnected'; reason: string; lastClose: CloseInfo | null }
  /** The server refused the token (close 4001 or HTTP 401); a new token is needed. */
  | { status: 'unauthorized'; reason: string }
  /** No WebSocket could be opened: commands go over HTTP and conversations are polled. */
  | { status: 'rest-fallback'; userId: string | null; probeAt: number | null };

export type ConnectionStatus = ConnectionState['status'];

export interface OutboxEntry {
  clientMsgId: string;
  recipientId: string;
  content: string;
  /** When the user sent it, as an ISO string (local clock). */
  queuedAt: string;
  /** `queued`: waiting for a connection or a retry; `sending`: awaiting its ack; `failed`: final. */
  status: 'queued' | 'sending' | 'failed';
  attempts: number;
  /** The last error, final when `status` is `failed`. */
  error: { code: string; message: string } | null;
}

export interface HistoryState {
  loading: boolean;
  /** At least one page was fetched. */
  loaded: boolean;
  /** The server has older messages than the oldest one known. */
  hasMore: boolean;
}

export type MessageSource = 'received' | 'sent' | 'ack' | 'sync' | 'history' | 'poll';

export interface ClientEvents {
  state: ConnectionState;
  /** A message was added to the store, or its `readAt` was set. */
  message: { message: Message; change: 'added' | 'updated'; source: MessageSource | 'read' };
  presence: Presence;
  typing: { userId: string; typing: boolean };
  outbox: readonly OutboxEntry[];
  /** A sync after a connect finished; `count` messages came with it. */
  synced: { count: number };
  /** An `error` event from the server (a frame it could not use). */
  'server-error': WireError;
  /** Every server event, raw, for anything this client does not model. */
  event: { event: string; data: unknown };
}

export interface ClientSnapshot {
  state: ConnectionState;
  /** The user's own id: from `connected`, the option, or the token's `sub`. */
  userId: string | null;
  /** Every known message, oldest first, deduplicated by id. */
  messages: readonly Message[];
  outbox: readonly OutboxEntry[];
  presence: Readonly<Record<string, Presence>>;
  /** `false` once the server answered that it does not offer presence; `null` before anyone asked. */
  presenceSupported: boolean | null;
  /** Users typing to us right now. */
  typing: readonly string[];
  history: Readonly<Record<string, HistoryState>>;
}

export type TokenSource = string | (() => string | Promise<string>);

export interface SwitchboardClientOptions {
  /** A JWT, or a function returning one (called on every connect, so it may refresh). */
  token: TokenSource;
  /** WebSocket endpoint; relative URLs resolve against `location`. Default `/ws`. */
  url?: string;
  /** Base of the REST fallback. Default: the origin of `url`. */
  restUrl?: string;
  /** `query` puts the token in `?token=` (browsers cannot set headers); `frame` sends an auth frame. */
  tokenTransport?: 'query' | 'frame';
  /** The user's own id for REST fallback; default: the token's `sub`. */
  userId?: string;
  /** How long a command waits for its ack. Default 10 000 ms. */
  ackTimeoutMs?: number;
  /** How long a socket may take from creation to `connected`. Default 15 000 ms. */
  connectTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Failed connects before any `connected` after which REST takes over (0 = never). Default 3. */
  fallbackAfterFailures?: number;
  /** Poll interval of watched conversations in REST fallback. Default 3000 ms. */
  restPollIntervalMs?: number;
  /** How often REST fallback tries the WebSocket again (0 = never). Default 30 000 ms. */
  wsProbeIntervalMs?: number;
  /** Page size of `sync`. Default 100 (server max 500). */
  syncPageSize?: number;
  /** Overlap of a resumed sync before the last id seen (see `resumeCursor`). Default 5000 ms. */
  syncOverlapMs?: number;
  /** `all`: the first connect without a cursor syncs everything; `none`: only what arrives from then on. Default `all`. */
  initialSync?: 'all' | 'none';
  /** Resume cursor from an earlier session (e.g. kept in storage). */
  initialCursor?: string;
  /** Page size of `history`. Default 30 (server max 200). */
  historyPageSize?: number;
  /** Longest content accepted locally, mirroring the server. Default 5000 characters. */
  maxContentChars?: number;
  typing?: TypingOptions;
  clock?: Clock;
  random?: () => number;
  createWebSocket?: (url: string) => WebSocketLike;
  fetch?: FetchLike;
  /** Base for relative URLs; default `globalThis.location`. */
  location?: { href: string };
}

interface PendingAck {
  resolve: (data: unknown) => void;
  reject: (error: SwitchboardError) => void;
  timer: TimerHandle;
}

interface OutboxItem {
  entry: OutboxEntry;
  /** Waiters of `sendMessage`/`retryMessage` for this entry. */
  waiters: { resolve: (m: Message) => void; reject: (e: SwitchboardError) => void }[];
  /** Retryable failures in a row, for the retry delay. */
  retries: number;
}

const OPEN = 1;

/** Closes a socket whose events no longer matter. */
function silence(socket: WebSocketLike, code: number, reason: string): void {
  socket.onopen = socket.onmessage = socket.onerror = null;
  socket.onclose = null;
  try {
    socket.close(code, reason);
  } catch {
    // Closing a socket that never opened may throw in some runtimes; it is gone anyway.
  }
}

function defaultCreateWebSocket(url: string): WebSocketLike {
  return new WebSocket(url) as unknown as WebSocketLike;
}

/** Resolves `url` against the page and turns http(s) into ws(s). */
export function resolveWsUrl(url: string, base?: { href: string }): URL {
  const href = base?.href ?? (globalThis as { location?: { href: string } }).location?.href;
  const resolved = href ? new URL(url, href) : new URL(url);
  if (resolved.protocol === 'http:') resolved.protocol = 'ws:';
  else if (resolved.protocol === 'https:') resolved.protocol = 'wss:';
  return resolved;
}

/** The HTTP origin that serves the REST fallback next to a WebSocket URL. */
export function restBaseFor(wsUrl: URL): string {
  const protocol = wsUrl.protocol === 'wss:' ? 'https:' : 'http:';
  return `${protocol}//${wsUrl.host}`;
}

export class SwitchboardClient {
  private readonly options: SwitchboardClientOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly backoff: Required<BackoffOptions>;
  private readonly emitter = new Emitter<ClientEvents>();
  private readonly changeListeners = new Set<() => void>();
  private readonly rest: RestClient;
  private readonly store: MessageStore;
  private readonly typingOut: TypingThrottle;
  private readonly typingIn: TypingTracker;

  private tokenSource: TokenSource;
  private connectionState: ConnectionState = { status: 'idle' };
  private ownId: string | null;
  private socket: WebSocketLike | null = null;
  /** Bumped whenever a socket is replaced, so callbacks of an old one are ignored. */
  private generation = 0;
  private readonly pending = new Map<number, PendingAck>();
  private nextAck = 1;
  private stopped = true;
  /** A `connected` was received at least once: failures after that never fall back to REST. */
  private everConnected = false;
  /** Connects in a row that ended before `connected`. */
  private failures = 0;
  /** Retries since the last `connected`, for the backoff schedule. */
  private attempt = 0;
  private restMode = false;
  private syncing = false;
  private typingSupported = true;

  private retryTimer: TimerHandle | null = null;
  private connectTimer: TimerHandle | null = null;
  private pollTimer: TimerHandle | null = null;
  private probeTimer: TimerHandle | null = null;
  private pumpTimer: TimerHandle | null = null;
  private syncTimer: TimerHandle | null = null;

  private readonly outbox = new Map<string, OutboxItem>();
  private pumping = false;
  private readonly presenceMap = new Map<string, Presence>();
  private presenceSupported: boolean | null = null;
  private readonly historyMap = new Map<string, HistoryState>();
  private readonly watched = new Map<string, number>();
  private readonly readsInFlight = new Map<string, Promise<{ messageId: string; readAt: string }>>();

  private snapshot: ClientSnapshot | null = null;
  private notifyScheduled = false;

  constructor(options: SwitchboardClientOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.tokenSource = options.token;
    this.ownId =
      options.userId ?? (typeof options.token === 'string' ? jwtSubject(options.token) : null);
    this.store = new MessageStore(options.initialCursor);
    const wsUrl = resolveWsUrl(options.url ?? '/ws', options.location);
    this.rest = new RestClient({
      baseUrl: options.restUrl ?? restBaseFor(wsUrl),
      getToken: () => this.resolveToken(),
      clock: this.clock,
      timeoutMs: this.ackTimeoutMs,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.typingOut = new TypingThrottle(
      (event, recipientId) => this.sendTypingEvent(event, recipientId),
      this.clock,
      options.typing,
    );
    this.typingIn = new TypingTracker(
      this.clock,
      (userId, typing) => {
        this.emitter.emit('typing', { userId, typing });
        this.changed();
      },
      options.typing,
    );
  }

  // ---- observing ---------------------------------------------------------------------

  get state(): ConnectionState {
    return this.connectionState;
  }

  get userId(): string | null {
    return this.ownId;
  }

  /** The client's clock, so a UI counts down to `retryAt` on the same time base. */
  now(): number {
    return this.clock.now();
  }

  /** The resume cursor: the largest message id seen on the live stream. */
  get cursor(): string | undefined {
    return this.store.cursor;
  }

  on<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  /** Called (batched per microtask) whenever the snapshot changed. */
  subscribe = (listener: () => void): (() => void) => {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  };

  /** The current state as one immutable object; the same object until something changes. */
  getSnapshot = (): ClientSnapshot => {
    if (!this.snapshot) {
      this.snapshot = {
        state: this.connectionState,
        userId: this.ownId,
        messages: this.store.all(),
        outbox: [...this.outbox.values()].map((item) => item.entry),
        presence: Object.fromEntries(this.presenceMap),
        presenceSupported: this.presenceSupported,
        typing: this.typingIn.users,
        history: Object.fromEntries(this.historyMap),
      };
    }
    return this.snapshot;
  };

  /** One conversation, oldest first. */
  conversation(peerId: string): Message[] {
    return this.store.conversation(this.ownId, peerId);
  }

  // ---- connection lifecycle ------------------------------------------------------------

  /** Opens the connection (no-op when already open or opening). */
  connect(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.failures = 0;
    this.setState({ status: 'connecting', attempt: 1 });
    void this.open();
  }

  /**
   * Connects again now: after `unauthorized` (with a token function that returns a new
   * token, or after `setToken`), after running out of attempts, or to skip a backoff wait.
   * In REST fallback it probes the WebSocket at once.
   */
  reconnect(): void {
    this.stopped = false;
    this.clearTimer('retryTimer');
    this.detachSocket(1000, 'reconnecting');
    this.attempt = 0;
    this.failures = 0;
    if (this.restMode) {
      this.clearTimer('probeTimer');
      void this.open();
      return;
    }
    this.setState({ status: 'connecting', attempt: 1 });
    void this.open();
  }

  /** Closes for good (until `connect`/`reconnect`); the outbox is kept. */
  close(): void {
    this.stopped = true;
    this.restMode = false;
    for (const name of TIMERS) this.clearTimer(name);
    this.detachSocket(CloseCode.Normal, 'client closed');
    this.typingOut.reset();
    this.typingIn.clear();
    this.setState({ status: 'disconnected', reason: 'closed', lastClose: null });
  }

  /** Replaces the token used by later connects and REST calls. */
  setToken(token: TokenSource): void {
    this.tokenSource = token;
    if (typeof token === 'string' && !this.options.userId) {
      this.ownId = jwtSubject(token) ?? this.ownId;
    }
  }

  /** Extends the current connection's life with a new token (`refresh_token`). */
  async refreshToken(token: string): Promise<{ expiresAt: string }> {
    const ack = await this.request('refresh_token', { token });
    this.setToken(token);
    return ack;
  }

  private async resolveToken(): Promise<string> {
    const source = this.tokenSource;
    return typeof source === 'function' ? await source() : source;
  }

  private get ackTimeoutMs(): number {
    return this.options.ackTimeoutMs ?? 10_000;
  }

  private async open(): Promise<void> {
    const generation = ++this.generation;
    this.clearTimer('connectTimer');
    let token: string;
    try {
      token = await this.resolveToken();
    } catch (error) {
      if (generation !== this.generation || this.stopped) return;
      this.handleClose(generation, { code: 1006, reason: `no token: ${String(error)}` });
      return;
    }
    if (generation !== this.generation || this.stopped) return;
    if (!this.options.userId && !this.everConnected) {
      this.ownId = jwtSubject(token) ?? this.ownId;
    }

    const transport = this.options.tokenTransport ?? 'query';
    const url = resolveWsUrl(this.options.url ?? '/ws', this.options.location);
    if (transport === 'query') url.searchParams.set('token', token);

    let socket: WebSocketLike;
    try {
      socket = (this.options.createWebSocket ?? defaultCreateWebSocket)(url.toString());
    } catch (error) {
      this.handleClose(generation, { code: 1006, reason: `cannot open: ${String(error)}` });
      return;
    }
    this.socket = socket;
    this.connectTimer = this.clock.setTimeout(() => {
      this.connectTimer = null;
      if (generation !== this.generation) return;
      this.handleClose(generation, { code: 1006, reason: 'timed out waiting for connected' });
      silence(socket, CloseCode.Normal, 'connect timeout');
    }, this.options.connectTimeoutMs ?? 15_000);

    socket.onopen = () => {
      if (generation !== this.generation) return;
      if (transport === 'frame') socket.send(encodeFrame('auth', { token }));
    };
    socket.onmessage = (event) => {
      if (generation !== this.generation) return;
      if (typeof event.data === 'string') this.handleFrame(event.data);
    };
    socket.onclose = (event) => {
      this.handleClose(generation, { code: event.code, reason: event.reason ?? '' });
    };
    socket.onerror = () => {
      // A close event always follows; that is where the failure is handled.
    };
  }

  /** Stops listening to the current socket and closes it. */
  private detachSocket(code: number, reason: string): void {
    const socket = this.socket;
    this.socket = null;
    this.generation++;
    this.clearTimer('connectTimer');
    this.rejectPending('socket replaced');
    if (socket) silence(socket, code, reason);
  }

  private rejectPending(reason: string): void {
    for (const [ack, pending] of this.pending) {
      this.clock.clearTimeout(pending.timer);
      this.pending.delete(ack);
      pending.reject(new SwitchboardError('disconnected', `connection lost: ${reason}`));
    }
  }

  private handleClose(generation: number, close: CloseInfo): void {
    if (generation !== this.generation) return;
    const wasConnected = this.connectionState.status === 'connected';
    this.socket = null;
    this.generation++;
    this.clearTimer('connectTimer');
    this.rejectPending(`closed with ${close.code}`);
    this.typingOut.reset();
    this.typingIn.clear();
    if (this.stopped) return;

    if (close.code === CloseCode.Unauthorized) {
      this.enterUnauthorized(close.reason || 'authentication failed');
      return;
    }
    if (this.restMode) {
      this.scheduleProbe();
      return;
    }
    if (!wasConnected) this.failures++;
    const fallbackAfter = this.options.fallbackAfterFailures ?? 3;
    if (!this.everConnected && fallbackAfter > 0 && this.failures >= fallbackAfter) {
      this.enterRestFallback();
      return;
    }
    this.scheduleReconnect(close);
  }

  private scheduleReconnect(close: CloseInfo): void {
    this.attempt++;
    if (this.attempt > this.backoff.maxAttempts) {
      this.setState({
        status: 'disconnected',
        reason: `gave up after ${this.backoff.maxAttempts} attempts`,
        lastClose: close,
      });
      return;
    }
    const delay = backoffDelay(this.attempt, this.backoff, this.random);
    this.setState({
      status: 'reconnecting',
      attempt: this.attempt,
      retryAt: this.clock.now() + delay,
      lastClose: close,
    });
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      this.setState({ status: 'connecting', attempt: this.attempt + 1 });
      void this.open();
    }, delay);
  }

  private enterUnauthorized(reason: string): void {
    this.restMode = false;
    for (const name of TIMERS) this.clearTimer(name);
    this.detachSocket(CloseCode.Normal, 'unauthorized');
    this.setState({ status: 'unauthorized', reason });
  }

  private handleFrame(text: string): void {
    const frame = decodeFrame(text);
    if (!frame) return;
    if (frame.kind === 'ack' || frame.kind === 'ack-error') {
      const pending = this.pending.get(frame.ack);
      if (!pending) return;
      this.pending.delete(frame.ack);
      this.clock.clearTimeout(pending.timer);
      if (frame.kind === 'ack') pending.resolve(frame.data);
      else pending.reject(new SwitchboardError(frame.error.code, frame.error.message));
      return;
    }
    this.emitter.emit('event', { event: frame.event, data: frame.data });
    this.handleEvent(frame.event, frame.data);
  }

  private handleEvent(event: string, data: unknown): void {
    switch (event) {
      case 'connected':
        this.handleConnected(data as ServerEvents['connected']);
        break;
      case 'message_received':
        this.accept(data as Message, 'received', true);
        this.typingIn.stop((data as Message).senderId);
        break;
      case 'message_sent':
        this.accept(data as Message, 'sent', true);
        break;
      case 'message_read': {
        const { messageId, readAt } = data as ServerEvents['message_read'];
        this.applyRead(messageId, readAt);
        break;
      }
      case 'user_online': {
        const { userId } = data as ServerEvents['user_online'];
        const previous = this.presenceMap.get(userId);
        this.setPresence({ userId, online: true, lastSeenAt: previous?.lastSeenAt ?? null });
        break;
      }
      case 'user_offline': {
        const { userId, lastSeenAt } = data as ServerEvents['user_offline'];
        this.setPresence({ userId, online: false, lastSeenAt: lastSeenAt ?? null });
        break;
      }
      case 'user_typing':
        this.typingIn.start((data as ServerEvents['user_typing']).userId);
        break;
      case 'user_stop_typing':
        this.typingIn.stop((data as ServerEvents['user_stop_typing']).userId);
        break;
      case 'error':
        this.emitter.emit('server-error', data as WireError);
        break;
      default:
        break;
    }
  }

  private handleConnected(data: ServerEvents['connected']): void {
    this.clearTimer('connectTimer');
    this.clearTimer('probeTimer');
    this.clearTimer('pollTimer');
    // A retry waiting for its delay goes out right after the sync instead.
    this.clearTimer('pumpTimer');
    this.restMode = false;
    this.everConnected = true;
    this.failures = 0;
    this.attempt = 0;
    this.typingSupported = true;
    this.ownId = data.userId;
    this.setState({ status: 'connected', userId: data.userId, connectionId: data.connectionId });
    void this.runSync(this.generation, 0);
  }

  // ---- commands --------------------------------------------------------------------------

  /**
   * Sends one command and resolves with its ack data. Rejects with `SwitchboardError`:
   * the server's code for an error ack, `timeout` after `ackTimeoutMs`, `disconnected` when
   * there is no connection or it drops first.
   */
  request<K extends CommandName>(
    event: K,
    data: Commands[K]['data'],
    options: { timeoutMs?: number } = {},
  ): Promise<Commands[K]['ack']> {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN || this.connectionState.status !== 'connected') {
      return Promise.reject(new SwitchboardError('disconnected', 'not connected'));
    }
    const ack = this.nextAck++;
    return new Promise((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.ackTimeoutMs;
      const timer = this.clock.setTimeout(() => {
        this.pending.delete(ack);
        reject(new SwitchboardError('timeout', `no ack for ${event} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(ack, {
        resolve: resolve as (data: unknown) => void,
        reject,
        timer,
      });
      try {
        socket.send(encodeFrame(event, data, ack));
      } catch (error) {
        this.clock.clearTimeout(timer);
        this.pending.delete(ack);
        reject(new SwitchboardError('disconnected', `send failed: ${String(error)}`));
      }
    });
  }

  // ---- sync ------------------------------------------------------------------------------

  private async runSync(generation: number, failuresSoFar: number): Promise<void> {
    if (this.store.cursor === undefined && (this.options.initialSync ?? 'all') === 'none') {
      this.emitter.emit('synced', { count: 0 });
      void this.pump();
      return;
    }
    this.syncing = true;
    let count = 0;
    try {
      const limit = this.options.syncPageSize ?? 100;
      const cursor = this.store.cursor;
      let after = cursor === undefined ? undefined : resumeCursor(cursor, this.options.syncOverlapMs ?? 5000);
      // Bounded so that a server that keeps saying hasMore cannot spin this forever.
      for (let page = 0; page < 10_000; page++) {
        const result = await this.request('sync', after === undefined ? { limit } : { after, limit });
        if (generation !== this.generation) return;
        for (const message of result.messages) {
          if (this.accept(message, 'sync', true)) count++;
        }
        const last = result.messages[result.messages.length - 1];
        if (!result.hasMore || !last) break;
        after = last.id;
      }
      this.syncing = false;
      this.emitter.emit('synced', { count });
    } catch (error) {
      this.syncing = false;
      if (generation !== this.generation) return;
      const e = toSwitchboardError(error);
      if (e.code === 'disconnected') return; // the next connect syncs again
      // Missing a sync would lose messages: try again while this connection lives.
      const delay = backoffDelay(failuresSoFar + 1, this.backoff, this.random);
      this.syncTimer = this.clock.setTimeout(() => {
        this.syncTimer = null;
        if (generation === this.generation) void this.runSync(generation, failuresSoFar + 1);
      }, delay);
      return;
    }
    void this.pump();
  }

  /** Puts a message in the store; returns whether it was new. */
  private accept(message: Message, source: MessageSource, fromStream: boolean): boolean {
    const change = this.store.upsert(message, fromStream);
    if (
      message.clientMsgId !== null &&
      (this.ownId === null || message.senderId === this.ownId)
    ) {
      this.settleOutbox(message.clientMsgId, message);
    }
    if (change === 'unchanged') return false;
    this.emitter.emit('message', { message: this.store.get(message.id) ?? message, change, source });
    this.changed();
    return change === 'added';
  }

  private applyRead(messageId: string, readAt: string): void {
    const updated = this.store.markRead(messageId, readAt);
    if (!updated) return;
    this.emitter.emit('message', { message: updated, change: 'updated', source: 'read' });
    this.changed();
  }

  // ---- outbox ----------------------------------------------------------------------------

  /**
   * Queues a message and resolves with the stored message once the server acked it. The
   * message survives disconnects (it is re-sent with the same `clientMsgId`); the promise
   * rejects only for a final error (`invalid_request`, `forbidden`, `not_found`,
   * `too_large`), and the entry then stays in the outbox as `failed` until retried or
   * discarded.
   */
  sendMessage(recipientId: string, content: string): Promise<Message> {
    const max = this.options.maxContentChars ?? 5000;
    if (content.trim() === '') {
      return Promise.reject(new SwitchboardError('invalid_request', 'content must not be empty or blank'));
    }
    if ([...content].length > max) {
      return Promise.reject(new SwitchboardError('too_large', `content is longer than ${max} characters`));
    }
    const item: OutboxItem = {
      entry: {
        clientMsgId: newClientMsgId(),
        recipientId,
        content,
        queuedAt: new Date(this.clock.now()).toISOString(),
        status: 'queued',
        attempts: 0,
        error: null,
      },
      waiters: [],
      retries: 0,
    };
    const promise = new Promise<Message>((resolve, reject) => {
      item.waiters.push({ resolve, reject });
    });
    this.outbox.set(item.entry.clientMsgId, item);
    this.outboxChanged();
    void this.pump();
    return promise;
  }

  /** Puts a failed message back in the queue, with its original `clientMsgId`. */
  retryMessage(clientMsgId: string): Promise<Message> {
    const item = this.outbox.get(clientMsgId);
    if (!item) return Promise.reject(new SwitchboardError('not_found', 'no such queued message'));
    const promise = new Promise<Message>((resolve, reject) => item.waiters.push({ resolve, reject }));
    if (item.entry.status === 'failed') {
      item.entry = { ...item.entry, status: 'queued', error: null };
      item.retries = 0;
      this.outboxChanged();
      void this.pump();
    }
    return promise;
  }

  /** Drops a queued or failed message (one being sent may still be stored). */
  discardMessage(clientMsgId: string): void {
    const item = this.outbox.get(clientMsgId);
    if (!item || item.entry.status === 'sending') return;
    this.outbox.delete(clientMsgId);
    for (const waiter of item.waiters) {
      waiter.reject(new SwitchboardError('invalid_request', 'message discarded'));
    }
    this.outboxChanged();
  }

  private settleOutbox(clientMsgId: string, message: Message): void {
    const item = this.outbox.get(clientMsgId);
    if (!item) return;
    this.outbox.delete(clientMsgId);
    for (const waiter of item.waiters) waiter.resolve(message);
    this.outboxChanged();
  }

  private canSend(): boolean {
    if (this.restMode) return true;
    return this.connectionState.status === 'connected' && !this.syncing;
  }

  /**
   * Sends queued messages one at a time, in the order they were written, so the
   * conversation keeps the user's order even across retries.
   */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        if (!this.canSend() || this.pumpTimer !== null) return;
        const item = [...this.outbox.values()].find((i) => i.entry.status === 'queued');
        if (!item) return;
        const { clientMsgId, recipientId, content } = item.entry;
        item.entry = { ...item.entry, status: 'sending', attempts: item.entry.attempts + 1 };
        this.outboxChanged();
        const viaRest = this.restMode;
        const generation = this.generation;
        try {
          const message = viaRest
            ? await this.rest.sendMessage({ recipientId, content, clientMsgId })
            : (await this.request('send_message', { recipientId, content, clientMsgId })).message;
          this.accept(message, 'ack', !viaRest);
          // The ack may carry a different clientMsgId only if the server changed it; settle anyway.
          this.settleOutbox(clientMsgId, message);
        } catch (error) {
          const e = toSwitchboardError(error);
          if (!this.outbox.has(clientMsgId)) continue; // settled meanwhile (sync or another device)
          if (isFinalError(e)) {
            item.entry = { ...item.entry, status: 'failed', error: { code: e.code, message: e.message } };
            const waiters = item.waiters.splice(0);
            this.outboxChanged();
            for (const waiter of waiters) waiter.reject(e);
            continue;
          }
          item.entry = { ...item.entry, status: 'queued', error: { code: e.code, message: e.message } };
          this.outboxChanged();
          if (e.code === 'unauthorized' && viaRest) {
            this.enterUnauthorized(e.message);
            return;
          }
          // A new connection may already be up (a manual reconnect): send there at once.
          if (e.code === 'disconnected' && generation !== this.generation && this.canSend()) continue;
          if (e.code === 'disconnected' || e.code === 'unauthorized') return; // the next connect pumps
          item.retries++;
          const delay = backoffDelay(item.retries, this.backoff, this.random);
          this.pumpTimer = this.clock.setTimeout(() => {
            this.pumpTimer = null;
            void this.pump();
          }, delay);
          return;
        }
        item.retries = 0;
      }
    } finally {
      this.pumping = false;
    }
  }

  // ---- reads, typing, history, presence ---------------------------------------------------

  /** Marks one received message read (deduplicated while in flight). */
  markMessageRead(messageId: string): Promise<{ messageId: string; readAt: string }> {
    const known = this.store.get(messageId);
    if (known?.readAt) return Promise.resolve({ messageId, readAt: known.readAt });
    const inFlight = this.readsInFlight.get(messageId);
    if (inFlight) return inFlight;
    const promise = (this.restMode
      ? this.rest.markRead(messageId)
      : this.request('mark_message_read', { messageId })
    )
      .then((ack) => {
        this.applyRead(ack.messageId, ack.readAt);
        return ack;
      })
      .finally(() => this.readsInFlight.delete(messageId));
    this.readsInFlight.set(messageId, promise);
    return promise;
  }

  /** Marks everything received from `peerId` up to and including a message id read. */
  async markConversationRead(
    peerId: string,
    upToMessageId: string,
  ): Promise<{ count: number; readAt: string | null }> {
    const unread = this.store
      .conversation(this.ownId, peerId)
      .filter((m) => m.senderId === peerId && m.readAt === null && m.id <= upToMessageId);
    if (this.restMode) {
      // The REST API has no conversation-wide call: mark them one by one.
      let readAt: string | null = null;
      for (const message of unread) readAt = (await this.markMessageRead(message.id)).readAt;
      return { count: unread.length, readAt };
    }
    const ack = await this.request('mark_conversation_read', { peerId, upToMessageId });
    for (const message of unread) this.applyRead(message.id, ack.readAt);
    return ack;
  }

  /** Call on every keystroke in a conversation; throttled to one event per 3 s. */
  typing(recipientId: string): void {
    if (this.connectionState.status !== 'connected' || !this.typingSupported) return;
    this.typingOut.typing(recipientId);
  }

  /** Call when the user sends, clears the input or leaves the conversation. */
  stopTyping(recipientId: string): void {
    if (this.connectionState.status !== 'connected') return;
    this.typingOut.stop(recipientId);
  }

  private sendTypingEvent(event: 'user_typing' | 'user_stop_typing', recipientId: string): void {
    if (this.connectionState.status !== 'connected') return;
    this.request(event, { recipientId }).catch((error: unknown) => {
      // A server without typing support answers invalid_request ("unknown event"): stop
      // sending typing events on this connection instead of repeating a useless frame.
      if (error instanceof SwitchboardError && error.code === 'invalid_request') {
        this.typingSupported = false;
      }
    });
  }

  /**
   * Fetches the page of a conversation older than the oldest message known (the newest page
   * when none is known). Resolves with the page; concurrent calls share nothing and are
   * ignored while one is loading.
   */
  async loadOlder(peerId: string): Promise<MessagePage> {
    const current = this.historyMap.get(peerId) ?? { loading: false, loaded: false, hasMore: true };
    if (current.loading || (current.loaded && !current.hasMore)) {
      return { messages: [], hasMore: current.hasMore };
    }
    this.setHistory(peerId, { ...current, loading: true });
    const oldest = this.store.conversation(this.ownId, peerId)[0]?.id;
    const limit = this.options.historyPageSize ?? 30;
    try {
      const page = this.restMode
        ? await this.rest.history(peerId, { ...(oldest ? { before: oldest } : {}), limit })
        : await this.request('history', { peerId, ...(oldest ? { before: oldest } : {}), limit });
      for (const message of page.messages) this.accept(message, 'history', false);
      this.setHistory(peerId, { loading: false, loaded: true, hasMore: page.hasMore });
      return page;
    } catch (error) {
      this.setHistory(peerId, { ...current, loading: false });
      throw toSwitchboardError(error);
    }
  }

  /**
   * Looks presence up. Resolves with `null` when the server does not offer presence (it
   * answers `invalid_request` for an unknown event, or 404 over REST); the snapshot's
   * `presenceSupported` then says so and the UI shows presence as unknown.
   */
  async getPresence(userIds: string[]): Promise<Presence[] | null> {
    if (userIds.length === 0) return [];
    try {
      const presence = this.restMode
        ? await this.rest.presence(userIds)
        : (await this.request('get_presence', { userIds })).presence;
      this.presenceSupported = true;
      for (const p of presence) this.setPresence(p);
      this.changed();
      return presence;
    } catch (error) {
      const e = toSwitchboardError(error);
      if (e.code === 'invalid_request' || e.code === 'not_found') {
        if (this.presenceSupported !== false) {
          this.presenceSupported = false;
          this.changed();
        }
        return null;
      }
      if (e.code === 'unauthorized' && this.restMode) this.enterUnauthorized(e.message);
      throw e;
    }
  }

  /**
   * Declares that the UI shows a conversation, so REST fallback polls it. Returns the
   * function that undoes it.
   */
  watch(peerId: string): () => void {
    this.watched.set(peerId, (this.watched.get(peerId) ?? 0) + 1);
    if (this.restMode) void this.poll();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.watched.get(peerId) ?? 1) - 1;
      if (n <= 0) this.watched.delete(peerId);
      else this.watched.set(peerId, n);
    };
  }

  private setPresence(presence: Presence): void {
    this.presenceMap.set(presence.userId, presence);
    this.emitter.emit('presence', presence);
    this.changed();
  }

  private setHistory(peerId: string, state: HistoryState): void {
    this.historyMap.set(peerId, state);
    this.changed();
  }

  // ---- REST fallback -----------------------------------------------------------------------

  private enterRestFallback(): void {
    this.restMode = true;
    this.clearTimer('pumpTimer');
    this.setState({ status: 'rest-fallback', userId: this.ownId, probeAt: null });
    this.scheduleProbe();
    void this.poll();
    void this.pump();
  }

  private scheduleProbe(): void {
    this.clearTimer('probeTimer');
    const interval = this.options.wsProbeIntervalMs ?? 30_000;
    if (interval <= 0) {
      this.setState({ status: 'rest-fallback', userId: this.ownId, probeAt: null });
      return;
    }
    const probeAt = this.clock.now() + interval;
    this.setState({ status: 'rest-fallback', userId: this.ownId, probeAt });
    this.probeTimer = this.clock.setTimeout(() => {
      this.probeTimer = null;
      if (this.restMode) void this.open();
    }, interval);
  }

  /** One round of REST polling: the newest page of each watched conversation. */
  private async poll(): Promise<void> {
    this.clearTimer('pollTimer');
    if (!this.restMode) return;
    const limit = this.options.historyPageSize ?? 30;
    for (const peerId of [...this.watched.keys()]) {
      try {
        const page = await this.rest.history(peerId, { limit });
        for (const message of page.messages) this.accept(message, 'poll', false);
        const current = this.historyMap.get(peerId);
        if (!current?.loaded) this.setHistory(peerId, { loading: false, loaded: true, hasMore: page.hasMore });
      } catch (error) {
        const e = toSwitchboardError(error);
        if (e.code === 'unauthorized') {
          this.enterUnauthorized(e.message);
          return;
        }
        // Anything else is transient: the next round tries again.
      }
      if (!this.restMode) return;
    }
    if (!this.restMode) return;
    this.clearTimer('pollTimer');
    this.pollTimer = this.clock.setTimeout(() => {
      this.pollTimer = null;
      void this.poll();
    }, this.options.restPollIntervalMs ?? 3000);
  }

  // ---- plumbing ----------------------------------------------------------------------------

  private clearTimer(name: TimerName): void {
    const handle = this[name];
    if (handle !== null) {
      this.clock.clearTimeout(handle);
      this[name] = null;
    }
  }

  private setState(state: ConnectionState): void {
    this.connectionState = state;
    this.emitter.emit('state', state);
    this.changed();
  }

  private outboxChanged(): void {
    this.changed();
    this.emitter.emit('outbox', this.getSnapshot().outbox);
  }

  /** Invalidates the snapshot and tells subscribers once per microtask. */
  private changed(): void {
    this.snapshot = null;
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    queueMicrotask(() => {
      this.notifyScheduled = false;
      for (const listener of [...this.changeListeners]) listener();
    });
  }
}

const TIMERS = ['retryTimer', 'connectTimer', 'pollTimer', 'probeTimer', 'pumpTimer', 'syncTimer'] as const;
type TimerName = (typeof TIMERS)[number];


