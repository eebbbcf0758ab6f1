// @vitest-environment happy-dom
/** RealtimeChat rendered against a stub connection. */
import type { ConnectionState, Message, OutboxEntry, SwitchboardClient } from '@switchboard/client';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RealtimeChat, type UseWebSocketResult } from '../src';

const ME = 'me-0000';
const PEER = 'peer-0000';

function msg(id: string, partial: Partial<Message> = {}): Message {
  return {
    id,
    senderId: PEER,
    recipientId: ME,
    content: 'hi',
    createdAt: new Date(Date.now() - 5 * 60_000).toISOString(),
    readAt: null,
    clientMsgId: null,
    ...partial,
  };
}

function chat(overrides: Partial<UseWebSocketResult> = {}): UseWebSocketResult {
  const state: ConnectionState = overrides.state ?? { status: 'connected', userId: ME, connectionId: 'c' };
  return {
    socket: {} as SwitchboardClient,
    isConnected: state.status === 'connected',
    state,
    status: state.status,
    secondsUntilRetry: null,
    userId: ME,
    onlineUsers: [],
    presence: {},
    presenceSupported: null,
    messages: [],
    outbox: [],
    typingUsers: [],
    history: { [PEER]: { loading: false, loaded: true, hasMore: false } },
    sendMessage: vi.fn(async () => null),
    retryMessage: vi.fn(),
    discardMessage: vi.fn(),
    markMessageRead: vi.fn(),
    markConversationRead: vi.fn(),
    emitTyping: vi.fn(),
    emitStopTyping: vi.fn(),
    loadOlder: vi.fn(async () => {}),
    lookupPresence: vi.fn(async () => null),
    watchConversation: vi.fn(() => () => {}),
    reconnect: vi.fn(),
    disconnect: vi.fn(),
    ...overrides,
  };
}

/** An IntersectionObserver that reports every observed element as visible. */
class VisibleObserver {
  constructor(private readonly callback: IntersectionObserverCallback) {}
  observe(target: Element) {
    this.callback([{ target, isIntersecting: true } as IntersectionObserverEntry], this as never);
  }
  unobserve() {}
  disconnect() {}
}

describe('RealtimeChat', () => {
  beforeEach(() => {
    vi.stubGlobal('IntersectionObserver', VisibleObserver);
  });
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
  });

  it('renders message content as text, never as HTML', () => {
    const evil = '<img src=x onerror="window.__pwned=1"><b>bold</b>';
    const { container } = render(<RealtimeChat chat={chat({ messages: [msg('m1', { content: evil })] })} recipientId={PEER} recipientName="Lena" />);
    expect(screen.getByText(evil)).toBeTruthy();
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('b')).toBeNull();
  });

  it('shows relative times and sent / read marks on own messages', () => {
    const c = chat({
      messages: [
        msg('m1', { senderId: ME, recipientId: PEER, content: 'unread one' }),
        msg('m2', { senderId: ME, recipientId: PEER, content: 'read one', readAt: new Date().toISOString() }),
      ],
    });
    render(<RealtimeChat chat={c} recipientId={PEER} recipientName="Lena" />);
    expect(screen.getAllByText('5 minutes ago')).toHaveLength(2);
    expect(screen.getByText('Sent')).toBeTruthy();
    expect(screen.getByText('Read')).toBeTruthy();
  });

  it('sends on Enter, adds a line on Shift+Enter', () => {
    const c = chat();
    render(<RealtimeChat chat={c} recipientId={PEER} recipientName="Lena" />);
    const input = screen.getByLabelText('Message to Lena') as HTMLTextAreaElement;
    fireEvent.change(input, { target: { value: 'line one' } });
    expect(c.emitTyping).toHaveBeenCalledWith(PEER);
    fireEvent.keyDown(input, { key: 'Enter', shiftKey: true });
    expect(c.sendMessage).not.toHaveBeenCalled();
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(c.sendMessage).toHaveBeenCalledWith(PEER, 'line one');
    expect(c.emitStopTyping).toHaveBeenCalledWith(PEER);
    expect(input.value).toBe('');
    fireEvent.keyDown(input, { key: 'Enter' }); // blank: nothing
    expect(c.sendMessage).toHaveBeenCalledTimes(1);
  });

  it('shows presence, last seen and typing', () => {
    const lastSeenAt = new Date(Date.now() - 10 * 60_000).toISOString();
    const { rerender } = render(
      <RealtimeChat chat={chat({ presence: { [PEER]: { userId: PEER, online: false, lastSeenAt } } })} recipientId={PEER} recipientName="Lena" />,
    );
    expect(screen.getByText('Last seen 10 minutes ago')).toBeTruthy();
    rerender(<RealtimeChat chat={chat({ presence: { [PEER]: { userId: PEER, online: true, lastSeenAt: null } } })} recipientId={PEER} recipientName="Lena" />);
    expect(screen.getByText('Online')).toBeTruthy();
    rerender(<RealtimeChat chat={chat({ typingUsers: [PEER] })} recipientId={PEER} recipientName="Lena" />);
    expect(screen.getByText('Lena is typing…')).toBeTruthy();
    rerender(<RealtimeChat chat={chat()} recipientId={PEER} recipientName="Lena" />);
    expect(screen.getByText('Presence unknown')).toBeTruthy();
  });

  it('shows the connection state and retries on demand', () => {
    const c = chat({
      state: { status: 'reconnecting', attempt: 2, retryAt: Date.now() + 4000, lastClose: { code: 1006, reason: '' } },
      secondsUntilRetry: 4,
    });
    render(<RealtimeChat chat={c} recipientId={PEER} recipientName="Lena" />);
    expect(screen.getByText('Disconnected — retrying in 4 s')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: /retry now/i }));
    expect(c.reconnect).toHaveBeenCalled();
  });

  it('marks visible received messages read', async () => {
    vi.useFakeTimers();
    try {
      const one = chat({ messages: [msg('m1')] });
      render(<RealtimeChat chat={one} recipientId={PEER} recipientName="Lena" />);
      await act(async () => {
        await vi.advanceTimersByTimeAsync(300);
      });
      expect(one.markMessageRead).toHaveBeenCalledWith('m1');
      cleanup();

      const many = chat({ messages: [msg('m1'), msg('m2'), msg('m3', { readAt: new Date().toISOString() })] });
      render(<RealtimeChat chat={many} recipientId={PEER} recipientName="Lena" />);
      await act(async () => {
        await vi.advanceTimersByTimeAsync(300);
      });
      expect(many.markConversationRead).toHaveBeenCalledWith(PEER, 'm2');
    } finally {
      vi.useRealTimers();
    }
  });

  it('shows pending and failed messages from the outbox, with retry', () => {
    const entry = (status: OutboxEntry['status'], content: string): OutboxEntry => ({
      clientMsgId: `c-${content}`,
      recipientId: PEER,
      content,
      queuedAt: new Date().toISOString(),
      status,
      attempts: 1,
      error: status === 'failed' ? { code: 'forbidden', message: 'not a contact' } : null,
    });
    const c = chat({ outbox: [entry('queued', 'later'), entry('failed', 'nope')] });
    render(<RealtimeChat chat={c} recipientId={PEER} recipientName="Lena" />);
    expect(screen.getByText('Waiting for connection…')).toBeTruthy();
    expect(screen.getByText(/Not sent: not a contact/)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(c.retryMessage).toHaveBeenCalledWith('c-nope');
  });

  it('loads the newest page when the conversation has none yet', () => {
    const c = chat({ history: {} });
    render(<RealtimeChat chat={c} recipientId={PEER} recipientName="Lena" />);
    expect(c.loadOlder).toHaveBeenCalledWith(PEER);
    expect(c.watchConversation).toHaveBeenCalledWith(PEER);
  });
});
