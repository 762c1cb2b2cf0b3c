"""Migration p006: the boards' change log written by permanent triggers on ``lb_scores``.

Dropped by p010: Citus cannot run them (a shard of ``lb_scores`` on a worker cannot write the
coordinator's ``lb_log``), so each statement now appends its own rows (board_log.py), with
the same rows and the same ``gamification.quiet_log`` setting. The text below is what older
schemas applied, and what tests/test_postgres_board_log_parity.py compares the statements with.

The SQLite file logs through TEMP triggers each connection creates, which its bulk paths drop
for a moment. PostgreSQL has no per-connection triggers, so these are created once with the
schema, and a bulk path turns them off for its own transaction only, with the transaction-local
setting ``gamification.quiet_log`` (``set_config(..., true)``): other sessions keep logging.
"""

from __future__ import annotations

__all__ = ["P006"]

# The same rows the SQLite triggers append (storage/boards.py _TRIGGERS): a listed row's
# insert, and any update of a row listed before or after.
P006 = """
CREATE FUNCTION lb_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('gamification.quiet_log', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.listed = 1 THEN
            INSERT INTO lb_log (period_id, user_id, score, reached, listed)
            VALUES (NEW.period_id, NEW.user_id, NEW.score, NEW.reached, 1);
        END IF;
    ELSIF NEW.listed = 1 OR OLD.listed = 1 THEN
        INSERT INTO lb_log (period_id, user_id, old_score, old_reached, old_listed, score,
            reached, listed)
        VALUES (NEW.period_id, NEW.user_id, OLD.score, OLD.reached, OLD.listed, NEW.score,
            NEW.reached, NEW.listed);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER lb_log_insert AFTER INSERT ON lb_scores
    FOR EACH ROW EXECUTE FUNCTION lb_log_change();
CREATE TRIGGER lb_log_update AFTER UPDATE ON lb_scores
    FOR EACH ROW EXECUTE FUNCTION lb_log_change();
"""
