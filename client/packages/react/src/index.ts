/**
 * @switchboard/react — React bindings for the Switchboard client:
 * - `useWebSocket`: one connection as React state and actions;
 * - `SwitchboardProvider` / `useSwitchboard`: share it down the tree;
 * - `RealtimeChat`: the chat pane for one conversation;
 * - `format`: the words for times, presence and connection state.
 */
export { useNow, useWebSocket, type UseWebSocketOptions, type UseWebSocketResult } from './useWebSocket';
export { SwitchboardProvider, useOptionalSwitchboard, useSwitchboard } from './context';
export { RealtimeChat, type RealtimeChatProps } from './RealtimeChat';
export { absoluteTime, connectionLabel, presenceLabel, relativeTime } from './format';
