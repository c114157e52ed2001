-- The mail senders claim the oldest pending messages (ORDER BY id ... LIMIT ... SKIP
-- LOCKED). Sent messages stay in the table, and with only `mail_outbox_due` (by
-- available_at) the planner walks the primary key through every sent message to find the
-- few pending ones. This index holds only pending messages, in claiming order.
-- Expand-only.
CREATE INDEX mail_outbox_pending ON platform.mail_outbox (id)
    WHERE sent_at IS NULL AND dead_at IS NULL;
