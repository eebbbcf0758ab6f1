// @vitest-environment happy-dom
/** useWebSocket driving a real client over a fake socket. */
import { SwitchboardClient } from '@switchboard/client';
import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { useWebSocket } from '../src';
import { FakeSocket, ME, message, messageId, PEER } from '../../switchboard-client/test/fakes';

function Probe({ client }: { client: SwitchboardClient }) {
  const chat = useWebSocket({ token: 't', client, contacts: [PEER] });
  return (
    <div>
      <span data-testid="status">{chat.status}</span>
      <span data-testid="count">{chat.messages.length}</span>
      <span data-testid="online">{chat.onlineUsers.join(',')}</span>
    </div>
  );
}

describe('useWebSocket', () => {
  afterEach(() => cleanup());

  it('connects on mount, follows the client, and closes on unmount', async () => {
    const sockets: FakeSocket[] = [];
    const client = new SwitchboardClient({
      token: 't',
      userId: ME,
      url: 'ws://gateway.test/ws',
      createWebSocket: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        return s;
      },
    });
    const view = render(<Probe client={client} />);
    await act(async () => {});
    const socket = sockets.at(-1)!;
    await act(async () => socket.accept());
    expect(screen.getByTestId('status').textContent).toBe('connected');
    await act(async () => {
      socket.reply(socket.last('sync').ack, { messages: [message({ id: messageId(1) })], hasMore: false });
      socket.reply(socket.last('get_presence').ack, { presence: [{ userId: PEER, online: true, lastSeenAt: null }] });
    });
    expect(screen.getByTestId('count').textContent).toBe('1');
    expect(screen.getByTestId('online').textContent).toBe(PEER);
    view.unmount();
    expect(client.state.status).toBe('disconnected');
    expect(socket.closedWith?.code).toBe(1000);
  });
});
