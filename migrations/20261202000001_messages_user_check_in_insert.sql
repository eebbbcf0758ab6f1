-- A message's sender and recipient are checked by the chat service's insert itself (the
-- group commit inserts only rows whose two users exist), and users are never deleted. The
-- foreign keys did the same check a second time, per row, and took a KEY SHARE lock on the
-- two users' rows — a WAL record per message, and a MultiXact whenever two concurrent
-- batches carried the same user: about a third of PostgreSQL's CPU per stored message
-- (docs/performance.md).
ALTER TABLE messages
    DROP CONSTRAINT messages_sender_id_fkey,
    DROP CONSTRAINT messages_recipient_id_fkey;
