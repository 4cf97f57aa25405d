-- The node (host name) whose Steward wrote each audit entry. Replicas sharing a log on
-- PostgreSQL set it; the embedded default leaves it empty. Restart counts are per node.
ALTER TABLE audit_log ADD COLUMN node TEXT NOT NULL DEFAULT '';
