# 028_tenant_sql: the emulator's computes are real PostgreSQL databases (behind a TLS proxy per
# endpoint, pooled through pgbouncer), so SQL really runs in tenants' databases:
#   - a tier's bootstrap_sql runs in every new tenant database before the tenant is ready;
#   - a bootstrap error fails the job with the remote SQLSTATE; neon_provision() again runs
#     only the bootstrap, with the tier's fixed SQL;
#   - neon_run_sql() over 200 tenants is a fleet-wide migration, paced by max_sql_connections,
#     each tenant's outcome in its job row, one deliberate failure reported, progress in sql_runs;
#   - SQL on a development branch; a snapshot restore brings deleted rows back;
#   - a tenant over its compute quota cannot connect (a clear reason), and can after an upgrade.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP qw(decode_json);
use NeonEmulator;
use NeonTest;

my $emu  = NeonEmulator->new(name => 'emu', operation_ms => 50, rate_limit_rpm => 0, burst_rps => 0,
	computes => 1, pooler => 1, cold_start_ms => 2500);
my $node = neon_node('primary', $emu,
	guc => { requests_per_minute => 100000, burst_per_second => 10000, max_sql_connections => 8,
		sql_background_connections => 4, request_timeout => 2000, settle_margin => 500 });
wait_worker_pid($node) or die 'no worker';

sub sql { return $node->safe_psql('postgres', $_[0]); }

# in_tenant($tenant, $sql, %o): runs $sql with psql on the tenant's connection URI (pooled unless
# pooled => 0; branch => name); returns (exit code, stdout, stderr).
sub in_tenant
{
	my ($tenant, $query, %o) = @_;
	my $branch = defined $o{branch} ? "'$o{branch}'" : 'NULL';
	my $pooled = ($o{pooled} // 1) ? 'true' : 'false';
	my $uri = sql("SELECT neon_connection_uri('$tenant', $branch, $pooled)");
	return $emu->tenant_psql($uri, $query);
}

# until_up($tenant, $sql): in_tenant() again while the compute is not up yet (the emulator
# creates the databases of many new projects one after the other, as Neon starts computes).
sub until_up
{
	my ($tenant, $query) = @_;
	my @r;
	for (1 .. 30)
	{
		@r = in_tenant($tenant, $query);
		last if $r[0] == 0 || $r[2] !~ /timeout expired|connect to compute/;
	}
	return @r;
}

note 'a tier whose bootstrap creates a schema, a table and seed rows';
sql(q{INSERT INTO neon_platform.tiers (name, organization, active_time_seconds, restore_window_seconds,
	  max_branches, max_snapshots, bootstrap_sql)
	  VALUES ('app', 'free', 360000, 86400, 10, 1,
	  'CREATE SCHEMA app; CREATE TABLE app.todos (id serial PRIMARY KEY, title text NOT NULL);
	   INSERT INTO app.todos (title) VALUES (''welcome''), (''read the docs'')')});
my %jobs = provision($node, tenants('b', 50, tiers => ['app']));
ok(wait_jobs_done($node, timeout => 180), '50 tenants of tier app provisioned');
is(sql("SELECT state, count(*) FROM neon_platform.tenants WHERE tier = 'app' GROUP BY 1"), 'ready|50',
	'all 50 ready');
my $with_rows = 0;
for my $t (map { sprintf('b-%03d', $_) } 1 .. 50)
{
	my ($rc, $out) = in_tenant($t, 'SELECT count(*) FROM app.todos');
	$with_rows++ if $rc == 0 && $out eq '2';
}
is($with_rows, 50, 'every tenant database holds the bootstrap\'s table and its two rows');
my $result = decode_json(sql("SELECT result FROM neon_platform.jobs WHERE id = $jobs{'b-001'}"));
is($result->{bootstrap}{rows_affected} . ' ' . $result->{bootstrap}{statements}, '2 3',
	'the job\'s result tells what the bootstrap did (3 statements, 2 rows)');

note 'a bootstrap that fails';
sql(q{UPDATE neon_platform.tiers SET bootstrap_sql = 'CREATE TABLE app_items (id int); INSERT INTO no_such_table VALUES (1)' WHERE name = 'app'});
%jobs = provision($node, [ 'bad-1', 'app' ]);
is(sql("SELECT neon_wait($jobs{'bad-1'})"), 'failed', 'the provisioning failed');
like(sql("SELECT last_error FROM neon_platform.jobs WHERE id = $jobs{'bad-1'}"),
	qr/the tier's bootstrap SQL failed: ERROR 42P01: relation "no_such_table" does not exist/,
	'with the remote error and its SQLSTATE');
is(sql("SELECT result->>'sqlstate' FROM neon_platform.jobs WHERE id = $jobs{'bad-1'}"), '42P01',
	'the SQLSTATE is in the job\'s result too');
is(sql("SELECT state, project_id IS NOT NULL FROM neon_platform.tenants WHERE tenant = 'bad-1'"), 'failed|t',
	'the tenant is failed, with its project');
$emu->clear_requests;
sql(q{UPDATE neon_platform.tiers SET bootstrap_sql = 'CREATE TABLE app_items (id int); INSERT INTO app_items VALUES (1)' WHERE name = 'app'});
my $again = sql("SELECT neon_provision('bad-1', 'app')");
isnt($again, $jobs{'bad-1'}, 'neon_provision() again enqueues a new job');
is(sql("SELECT neon_wait($again)"), 'succeeded', 'which succeeds with the fixed bootstrap');
is($emu->count_requests('POST', qr{^/api/v2/projects$}), 0, 'without creating a project: only the bootstrap ran');
is(sql("SELECT state FROM neon_platform.tenants WHERE tenant = 'bad-1'"), 'ready', 'the tenant is ready');
my ($rc, $out) = in_tenant('bad-1', 'SELECT count(*) FROM app_items');
is("$rc $out", '0 1', 'its database holds the fixed bootstrap\'s row (the failed one rolled back)');

note 'a fleet-wide migration over 200 tenants';
provision($node, tenants('m', 150, tiers => ['free']));
ok(wait_jobs_done($node, timeout => 180), '150 more tenants provisioned');
my $fleet = sql("SELECT count(*) FROM neon_platform.tenants WHERE state = 'ready' AND tenant ~ '^(b|m)-'");
is($fleet, 200, '200 tenants in the fleet');
($rc, undef, my $create_err) = until_up('m-077', 'CREATE TABLE notes (id int)');
is($rc, 0, 'm-077 already has a table notes (made by hand)') or diag $create_err;
sql(q{SELECT count(neon_run_sql(tenant, 'CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, ''hello'')'))
	    FROM neon_platform.tenants WHERE state = 'ready' AND tenant ~ '^(b|m)-'});
ok(wait_jobs_done($node, timeout => 300), 'the migration ended');
is(sql("SELECT tenants, succeeded, failed, rows_affected FROM neon_platform.sql_runs WHERE sql LIKE 'CREATE TABLE notes%'"),
	'200|199|1|199', 'sql_runs: 200 tenants, 199 succeeded (1 row each), 1 failed');
like(sql("SELECT tenant || ': ' || last_error FROM neon_platform.jobs WHERE kind = 'run_sql' AND state = 'failed'"),
	qr/^m-077: the SQL failed: ERROR 42P07: relation "notes" already exists$/, 'the failure names the tenant, the SQLSTATE and the error');
is(sql("SELECT count(*) FROM neon_platform.jobs WHERE kind = 'run_sql' AND state = 'succeeded'
	     AND (result->>'rows_affected')::int = 1 AND (result->>'duration_ms')::numeric > 0"), 199,
	'each succeeded job records its rows affected and duration');
my $overlap = sql(q{
	WITH runs AS (SELECT finished_at - (result->>'duration_ms')::numeric * interval '1 ms' AS started_at, finished_at
	                FROM neon_platform.jobs WHERE kind = 'run_sql' AND args->>'sql' LIKE 'CREATE TABLE notes%')
	SELECT max((SELECT count(*) FROM runs AS o WHERE o.started_at <= r.started_at AND o.finished_at > r.started_at))
	  FROM runs AS r});
note "at most $overlap of the migration's connections were open at once";
ok($overlap >= 2 && $overlap <= 4, 'several at once, never more than sql_background_connections (4)');
($rc, $out) = in_tenant('m-150', 'SELECT body FROM notes');
is("$rc $out", '0 hello', 'a migrated tenant has the table and row');

note 'SQL on a development branch';
my $b = sql("SELECT neon_create_branch('b-002', 'dev')");
is(sql("SELECT neon_wait($b)"), 'succeeded', 'a development branch of b-002');
($rc, $out) = in_tenant('b-002', 'SELECT count(*) FROM app.todos', branch => 'dev');
is("$rc $out", '0 2', 'it holds production\'s rows (copied)');
my $job = sql("SELECT neon_run_sql('b-002', 'DELETE FROM app.todos', branch => 'dev')");
is(sql("SELECT neon_wait($job)"), 'succeeded', 'neon_run_sql on the branch');
is(sql("SELECT result->>'rows_affected' FROM neon_platform.jobs WHERE id = $job"), '2', 'deleted 2 rows there');
($rc, $out) = in_tenant('b-002', 'SELECT count(*) FROM app.todos');
is("$rc $out", '0 2', 'production still has its 2 rows');

note 'a snapshot brings deleted rows back';
$job = sql("SELECT neon_snapshot('b-003', 'before')");
is(sql("SELECT neon_wait($job)"), 'succeeded', 'snapshot of b-003');
($rc) = in_tenant('b-003', 'DELETE FROM app.todos', pooled => 0);
is($rc, 0, 'its rows deleted');
$job = sql("SELECT neon_restore_snapshot('b-003', 'before')");
is(sql("SELECT neon_wait($job)"), 'succeeded', 'snapshot restored');
($rc, $out) = in_tenant('b-003', 'SELECT count(*) FROM app.todos');
is("$rc $out", '0 2', 'the rows are back');
$job = sql("SELECT neon_undo_restore('b-003')");
is(sql("SELECT neon_wait($job)"), 'succeeded', 'the restore undone');
($rc, $out) = in_tenant('b-003', 'SELECT count(*) FROM app.todos');
is("$rc $out", '0 0', 'the rows are gone again');

note 'a compute that scaled to zero: the first connection waits for its cold start';
my ($cold_pid, $cold_ep) = split /\|/, sql("SELECT project_id, endpoint_id FROM neon_platform.tenants WHERE tenant = 'm-009'");
my ($st) = $emu->api('POST', "/projects/$cold_pid/endpoints/$cold_ep/suspend", key => 'free');
is($st, 200, 'm-009\'s compute suspended (scaled to zero)');
ok(poll_until($node, 'SELECT 1', '1', timeout => 5) && sleep(1), 'its suspension settled');
sql("ALTER SYSTEM SET neon_platform.sql_connect_timeout = '1s'");
sql('SELECT pg_reload_conf()');
$job = sql("SELECT neon_run_sql('m-009', 'UPDATE notes SET body = ''woken''')");
is(sql("SELECT neon_wait($job, '60 s')"), 'succeeded', 'the SQL ran once the compute was up');
cmp_ok(sql("SELECT attempts FROM neon_platform.jobs WHERE id = $job"), '>=', 2,
	'after a first connection that timed out during the cold start (2.5 s, connect timeout 1 s)');
is(sql("SELECT result->>'rows_affected' FROM neon_platform.jobs WHERE id = $job"), '1', 'and it ran once');
sql('ALTER SYSTEM RESET neon_platform.sql_connect_timeout');
sql('SELECT pg_reload_conf()');

note 'the worker killed while a tenant\'s SQL runs: it is never run a second time';
$job = sql("SELECT neon_run_sql('m-010', 'SELECT pg_sleep(3); INSERT INTO notes VALUES (2, ''once'')')");
ok(poll_until($node, "SELECT mutation_sent_at IS NOT NULL FROM neon_platform.jobs WHERE id = $job", 't', timeout => 30),
	'the SQL left (jobs.mutation_sent_at)');
my $logpos = -s $node->logfile;
my $killed = worker_pid($node);
kill 'KILL', $killed;
ok($node->wait_for_log(qr/terminated by signal 9/, $logpos), 'the worker was killed with SIGKILL');
ok(wait_worker_pid($node, not => $killed, timeout => 60), 'after crash recovery a new worker runs');
is(sql("SELECT neon_wait($job, '60 s')"), 'failed', 'the restarted worker fails the job');
like(sql("SELECT last_error FROM neon_platform.jobs WHERE id = $job"),
	qr/the worker stopped while the SQL ran; whether it committed is unknown, so it is not run again/,
	'because whether it committed is unknown');
sleep 4;
($rc, $out) = in_tenant('m-010', 'SELECT count(*) FROM notes WHERE id = 2');
ok($rc == 0 && $out <= 1, "the INSERT ran at most once ($out row)");

note 'a tenant over its compute quota cannot connect, and can after an upgrade';
my $pid = sql("SELECT project_id FROM neon_platform.tenants WHERE tenant = 'm-001'");
$emu->usage($pid, { active_time_seconds => 360000 });
($rc, undef, my $err) = in_tenant('m-001', 'SELECT 1');
isnt($rc, 0, 'the suspended tenant cannot connect');
like($err, qr/exceeded/i, 'Neon\'s reason: the quota is exceeded');
sql("ALTER SYSTEM SET neon_platform.max_attempts = 2");
sql('SELECT pg_reload_conf()');
$job = sql("SELECT neon_run_sql('m-001', 'SELECT 1')");
is(sql("SELECT neon_wait($job, '60 s')"), 'failed', 'neon_run_sql gives up after its attempts');
like(sql("SELECT last_error FROM neon_platform.jobs WHERE id = $job"),
	qr/gave up after 2 attempts; last error: the tenant's database did not take the connection: .*exceeded/,
	'with the compute\'s refusal as the reason');
$job = sql("SELECT neon_set_tier('m-001', 'pro')");
is(sql("SELECT neon_wait($job)"), 'succeeded', 'an upgrade to pro');
($rc, $out) = in_tenant('m-001', 'SELECT 1');
is("$rc $out", '0 1', 'the tenant can connect again');

my @leaks = secrets_leaked($node);
is_deeply(\@leaks, [], 'no secret in the log or tables');
my $passwords = sql("SELECT string_agg(role_password, '|') FROM neon_platform.tenant_secrets");
my $visible = sql('SELECT string_agg(j::text, \'\') FROM neon_platform.jobs j');
is(scalar(grep { index($visible, $_) >= 0 } split /\|/, $passwords), 0, 'no role password in any job row');

done_testing();
