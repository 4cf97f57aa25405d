-- The node (host name) whose Steward judged each resolved alert. Replicas sharing the history
-- on PostgreSQL set it; the embedded default leaves it empty.
ALTER TABLE alert_history ADD COLUMN node TEXT NOT NULL DEFAULT '';
