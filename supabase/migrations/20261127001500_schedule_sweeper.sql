-- Dead exchanges are swept on a schedule too, not only when their user sends or reads messages:
-- a user who never comes back would otherwise keep a pending message, and its expired budget
-- reservation, forever. pg_cron (20261127000100_extensions.sql) runs the sweeper for all users
-- every 30 seconds, as the role that scheduled it (the migrations' owner). cron.schedule with a
-- job name replaces that job if it exists, so running this again changes nothing.
select cron.schedule(
  'sweep-stale-exchanges',
  '30 seconds',
  $$select private.sweep_stale_exchanges()$$
);
