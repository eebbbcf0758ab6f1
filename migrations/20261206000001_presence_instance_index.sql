-- Live connections by gateway instance, without a second partial index on live rows.
--
-- Both `presence_connections_live_user_idx` and the instance index were partial indexes on
-- `closed_at IS NULL`. When the table's statistics were taken after a wave of disconnects
-- (every row a tombstone), the planner costs each at one row, and for the announcement
-- query's per-contact probe it picked the instance index — a walk over every live
-- connection per contact, seconds per batch in a connect storm (151 ms against 0.6 ms for
-- 50 users at 9,000 live connections in a reproduction). A full index on (instance_id,
-- closed_at) serves the by-instance queries and is no cheap way to list live rows.
DROP INDEX presence_connections_live_instance_idx;
CREATE INDEX presence_connections_instance_idx ON presence_connections (instance_id, closed_at);
