-- The largest message id handed out. Each group commit moves it forward in the same
-- statement that inserts its messages; the row lock makes concurrent commits take turns,
-- so message ids follow commit order across every chat replica.
CREATE TABLE message_id_floor (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id    uuid    NOT NULL
);

INSERT INTO message_id_floor (last_id)
SELECT COALESCE((SELECT id FROM messages ORDER BY id DESC LIMIT 1),
                '00000000-0000-0000-0000-000000000000'::uuid);
