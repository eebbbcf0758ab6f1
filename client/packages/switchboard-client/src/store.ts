/**
 * Every message the client knows, keyed by id, so that at-least-once delivery, `sync`
 * overlaps, history pages and REST polls never show a message twice. It also keeps the
 * resume cursor: the largest id learned from the live stream (events, acks, `sync`), which
 * is where the next `sync` starts. History pages and REST polls do not move the cursor: they
 * cover one conversation only, and a cursor moved by them could skip messages of another.
 */
import type { Message } from './protocol';

export type UpsertResult = 'added' | 'updated' | 'unchanged';

export class MessageStore {
  private readonly byId = new Map<string, Message>();
  private sorted: Message[] | null = [];
  private lastSeen: string | undefined;

  constructor(initialCursor?: string) {
    this.lastSeen = initialCursor;
  }

  /** The resume cursor for `sync`, `undefined` before anything was seen. */
  get cursor(): string | undefined {
    return this.lastSeen;
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): Message | undefined {
    return this.byId.get(id);
  }

  /**
   * Adds or merges one message. A message is immutable except for `readAt`, which only ever
   * goes from `null` to a time, so a stale copy never un-reads a message.
   */
  upsert(message: Message, fromStream: boolean): UpsertResult {
    if (fromStream && (this.lastSeen === undefined || message.id > this.lastSeen)) {
      this.lastSeen = message.id;
    }
    const existing = this.byId.get(message.id);
    if (!existing) {
      this.byId.set(message.id, message);
      this.sorted = null;
      return 'added';
    }
    if (existing.readAt === null && message.readAt !== null) {
      this.byId.set(message.id, { ...existing, readAt: message.readAt });
      this.sorted = null;
      return 'updated';
    }
    return 'unchanged';
  }

  /** Records a read receipt; returns the updated message, or `undefined` if nothing changed. */
  markRead(messageId: string, readAt: string): Message | undefined {
    const existing = this.byId.get(messageId);
    if (!existing || existing.readAt !== null) return undefined;
    const updated = { ...existing, readAt };
    this.byId.set(messageId, updated);
    this.sorted = null;
    return updated;
  }

  /** All messages, oldest first (ids are time-ordered). */
  all(): Message[] {
    if (!this.sorted) {
      this.sorted = [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    return this.sorted;
  }

  /** One conversation between `me` and `peer`, oldest first. */
  conversation(me: string | null, peer: string): Message[] {
    return this.all().filter((m) => isBetween(m, me, peer));
  }
}

/** Whether a message belongs to the conversation with `peer` (`me` unknown: any side). */
export function isBetween(message: Message, me: string | null, peer: string): boolean {
  if (me === null) return message.senderId === peer || message.recipientId === peer;
  return (
    (message.senderId === me && message.recipientId === peer) ||
    (message.senderId === peer && message.recipientId === me)
  );
}
