-- Citus (distributed PostgreSQL, sharded by user) for the engine's schema.
--
-- Run once, as a superuser, on the coordinator, after the engine created and migrated its
-- schema (open it once) and before traffic. Edit the search_path if the schema is not named
-- gamification. What this layout costs (cross-shard operations) is in docs/postgresql.md.
-- tests/test_postgres_citus.py checks this script against the schema: every table appears
-- once, each distributed table's primary, unique and foreign keys include its distribution
-- column, and no reference table has a foreign key to a distributed one.
--
-- No trigger on a distributed table writes another table (checked live on the migrated
-- schema): the boards' change log on the coordinator (lb_log) is appended by the statements
-- that change the sharded lb_scores (storage/postgres/board_log.py, migration p010), where
-- triggers on lb_scores did. Citus cannot be installed where the tests run, so the engine
-- has not run on it: that its statements plan there (such as those data-modifying CTEs, or
-- a relisting's FOR UPDATE across shards) is not checked; docs/postgresql.md says what is.

SET search_path TO gamification;

-- Definitions, configuration and shared state: one copy on every node, so joins with them
-- stay on a shard. First, as distributed tables have foreign keys to some of them.
SELECT create_reference_table('definitions');
SELECT create_reference_table('achievement_tiers');
SELECT create_reference_table('job_state');
SELECT create_reference_table('job_runs');
SELECT create_reference_table('leases');
SELECT create_reference_table('lb_boards');
SELECT create_reference_table('lb_periods');
SELECT create_reference_table('lb_settings');
SELECT create_reference_table('groups');
SELECT create_reference_table('referral_codes');
SELECT create_reference_table('shop_stock');
SELECT create_reference_table('battle_pass_seasons');
SELECT create_reference_table('deleted_users');
SELECT create_reference_table('config_versions');
SELECT create_reference_table('lot_currencies');

-- Everything a user owns, sharded by the user and colocated with the profile, so one user's
-- writes (an award and its ledger lines) touch one shard. profiles first: the others have
-- foreign keys to it.
SELECT create_distributed_table('profiles', 'user_id');
SELECT create_distributed_table('xp_awards', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('xp_boosts', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('level_rewards_granted', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('prestiges', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('titles', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('idempotency_keys', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('accounts', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('transactions', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('entries', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('reservations', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('metrics', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('metric_days', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('achievement_unlocks', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('inventory', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('notifications', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('notification_preferences', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('rest_days', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('streak_log', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('quest_progress', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('quest_completions', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('rate_limit_hits', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('lb_scores', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('lb_archive', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('lb_rewards', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('group_members', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('friends', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('referral_milestones', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('shop_orders', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('battle_pass_progress', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('battle_pass_claims', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('point_lots', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('lot_uses', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('lot_holds', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('tier_status', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('tier_earnings', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('tier_changes', 'user_id', colocate_with => 'profiles');
SELECT create_distributed_table('referrals', 'referred_id', colocate_with => 'profiles');

-- The boards' change log is read in one global order by every app server: it stays on the
-- coordinator.
SELECT citus_add_local_table_to_metadata('lb_log');

-- The progress of a copy from a SQLite file (gamification migrate), written by the copier only.
SELECT citus_add_local_table_to_metadata('copy_progress');

-- schema_migrations, the engine's own record of its migrations, stays a plain table on the
-- coordinator, where the engine migrates (under an advisory lock) before traffic.
