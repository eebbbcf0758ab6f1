/**
 * @switchboard/client — the framework-free Switchboard client.
 *
 * - `protocol`: wire types and framing (SPEC §2);
 * - `client`: `SwitchboardClient`, the connection with acks, reconnect, sync and outbox;
 * - `rest`: the REST fallback (SPEC §3);
 * - `backoff`, `typing`, `store`, `ids`, `clock`, `errors`: the pieces it is made of,
 *   exported for tests and for other UIs.
 */
export * from './protocol';
export * from './errors';
export * from './clock';
export * from './backoff';
export * from './typing';
export * from './store';
export * from './ids';
export * from './rest';
export {
  SwitchboardClient,
  resolveWsUrl,
  restBaseFor,
  type ClientEvents,
  type ClientSnapshot,
  type CloseInfo,
  type ConnectionState,
  type ConnectionStatus,
  type HistoryState,
  type MessageSource,
  type OutboxEntry,
  type SwitchboardClientOptions,
  type TokenSource,
  type WebSocketLike,
} from './client';
