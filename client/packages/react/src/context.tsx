/**
 * `SwitchboardProvider` shares one `useWebSocket` connection with every component below it,
 * so a contact list and a chat pane use the same socket.
 */
import { createContext, type ReactNode, useContext } from 'react';
import { useWebSocket, type UseWebSocketOptions, type UseWebSocketResult } from './useWebSocket';

const SwitchboardContext = createContext<UseWebSocketResult | null>(null);

export function SwitchboardProvider({
  options,
  children,
}: {
  options: UseWebSocketOptions;
  children: ReactNode;
}) {
  const chat = useWebSocket(options);
  return <SwitchboardContext.Provider value={chat}>{children}</SwitchboardContext.Provider>;
}

/** The connection of the nearest `SwitchboardProvider`. */
export function useSwitchboard(): UseWebSocketResult {
  const chat = useContext(SwitchboardContext);
  if (!chat) throw new Error('useSwitchboard needs a <SwitchboardProvider> above it');
  return chat;
}

/** The provider's connection, or `null` outside one. */
export function useOptionalSwitchboard(): UseWebSocketResult | null {
  return useContext(SwitchboardContext);
}
