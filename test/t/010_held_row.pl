# 010_held_row: an application transaction that holds a tenant's row does not stall the worker.
#
# The worker writes tenant rows with SELECT ... FOR NO KEY UPDATE NOWAIT; when a row is held,
# that one job's answer is set aside in memory and retried (0.1 s doubling to 5 s) while the
# other jobs go on. neon_provision() of an existing tenant takes no row lock (0.2.0).
#
# Part 1: tenant "held" is being created (emulator latency 2 s); a client session calls
# neon_provision('held') in an open transaction (no lock taken: checked with pg_locks and
# pgrowlocks), then really holds the row with SELECT ... FOR UPDATE for about 10 s. The answer
# of the create arrives and cannot be recorded; meanwhile 20 other tenants, provisioned in four
# batches at different moments of the hold, must become ready quickly. After ROLLBACK, "held"
# becomes ready with exactly one project and its password.
#
# Part 2: the same with a prepared transaction (PREPARE TRANSACTION) holding the row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use NeonEmulator;
use NeonTest;

my $emu = NeonEmulator->new(name => 'emu', latency_ms => 2000, operation_ms => 50);
my $node = neon_node('primary', $emu, conf => 'max_prepared_transactions = 5');
my $wpid = wait_worker_pid($node) or die 'no worker';

my $POSTS = qr{^/api/v2/projects$};
# How fast a tenant must become ready while another tenant's row is held.
my $FAST = 3.0;

my $have_pgrowlocks = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_available_extensions WHERE name = 'pgrowlocks'");
$node->safe_psql('postgres', 'CREATE EXTENSION pgrowlocks') if $have_pgrowlocks;

# wait_log($re, $offset, $timeout): whether the server log matches after $offset within $timeout s.
sub wait_log
{
	my ($re, $offset, $timeout) = @_;
	my $deadline = time() + $timeout;
	while (1)
	{
		return 1 if slurp_file($node->logfile, $offset) =~ $re;
		return 0 if time() >= $deadline;
		usleep(100_000);
	}
}

# wait_ready(\@tenants, $timeout): seconds until every tenant is ready (polled every 50 ms),
# or undef on timeout.
sub wait_ready
{
	my ($tenants, $timeout) = @_;
	my $names = join ',', map { "'$_'" } @$tenants;
	my $n = scalar @$tenants;
	my $t0 = time();
	while (time() - $t0 < $timeout)
	{
		my $ready = $node->safe_psql('postgres',
			"SELECT count(*) FROM neon_platform.tenants WHERE tenant IN ($names) AND state = 'ready'");
		return time() - $t0 if $ready == $n;
		usleep(50_000);
	}
	return undef;
}

# sleep_until($t): sleeps until the epoch time $t (if still ahead).
sub sleep_until
{
	my ($t) = @_;
	my $d = $t - time();
	usleep(int($d * 1_000_000)) if $d > 0;
}

# State of a tenant and of its job, as "tenant_state|job_state".
sub held_state
{
	my ($tenant, $job) = @_;
	return $node->safe_psql('postgres',
		"SELECT t.state || '|' || j.state FROM neon_platform.tenants t, neon_platform.jobs j
		  WHERE t.tenant = '$tenant' AND j.id = $job");
}

# Batches of other tenants provisioned while a row is held; returns (\@tenants, \@wall_seconds).
sub provision_batches
{
	my ($prefix, $lock_time, @offsets) = @_;
	my (@all, @walls);
	for my $b (0 .. $#offsets)
	{
		sleep_until($lock_time + $offsets[$b]);
		my @batch = tenants(sprintf('%s%d', $prefix, $b + 1), 5);
		my $t0    = time();
		provision($node, @batch);
		my $wall = wait_ready([ map { $_->[0] } @batch ], 20);
		note sprintf('batch %d (5 tenants) provisioned %.1f s into the hold: all ready after %s',
			$b + 1, $t0 - $lock_time, defined $wall ? sprintf('%.2f s', $wall) : 'more than 20 s (timeout)');
		push @walls, $wall // 99;
		push @all, map { $_->[0] } @batch;
	}
	return (\@all, \@walls);
}

# Per-tenant enqueue-to-ready times from the table (ready_at - created_at), in seconds.
sub ready_delays
{
	my ($tenants) = @_;
	my $names = join ',', map { "'$_'" } @$tenants;
	return [ map { $_->[0] } @{ query_rows($node,
		"SELECT coalesce(extract(epoch FROM ready_at - created_at)::float8, 999) FROM neon_platform.tenants WHERE tenant IN ($names) ORDER BY 1") } ];
}

# explain_slow(\@tenants): for tenants that were slow, when the job was claimed, how long its
# POST took, and when its answer was recorded (api_calls.called_at is the recording time).
sub explain_slow
{
	my ($tenants) = @_;
	my $names = join ',', map { "'$_'" } @$tenants;
	diag "slow tenants: claimed after / POST latency / answer recorded after / ready after (seconds from enqueue)\n"
	  . $node->safe_psql('postgres',
		"SELECT t.tenant, round(extract(epoch FROM j.started_at - t.created_at)::numeric, 2),
		        round((c.latency_ms / 1000)::numeric, 3),
		        round(extract(epoch FROM c.called_at - t.created_at)::numeric, 2),
		        round(extract(epoch FROM t.ready_at - t.created_at)::numeric, 2)
		   FROM neon_platform.tenants t JOIN neon_platform.jobs j USING (tenant)
		   JOIN neon_platform.api_calls c ON c.job_id = j.id
		  WHERE t.tenant IN ($names) AND t.ready_at - t.created_at > interval '1 s' ORDER BY 5 DESC, 1");
	return;
}

# The password the emulator holds for a tenant's owner role (read outside SQL: never logged).
sub emulator_password
{
	my ($tenant) = @_;
	my ($pid, $bid) = split /\|/, $node->safe_psql('postgres',
		"SELECT project_id || '|' || branch_id FROM neon_platform.tenants WHERE tenant = '$tenant'");
	my ($status, $data) = $emu->api('GET',
		"/projects/$pid/branches/$bid/roles/neondb_owner/reveal_password", key => 'free');
	return $status == 200 ? $data->{password} : "HTTP $status";
}

# check_held_done($tenant, $job, $label): the tenant that was held ends with one project,
# one recorded POST and its password.
sub check_held_done
{
	my ($tenant, $job, $label) = @_;
	is($node->safe_psql('postgres', "SELECT state FROM neon_platform.jobs WHERE id = $job"),
		'succeeded', "$label: its job succeeded");
	is($emu->projects_by_name->{"tenant-$tenant"} // 0, 1, "$label: exactly one project named tenant-$tenant in the emulator");
	is($node->safe_psql('postgres', "SELECT method || ' ' || coalesce(status::text, 'none') || ' x' || count(*) FROM neon_platform.api_calls WHERE job_id = $job GROUP BY method, status"),
		'POST 201 x1', "$label: one API call for it, the POST answered 201, recorded once (retries of the record left no extra row)");
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM neon_platform.tenant_secrets s JOIN neon_platform.tenants t USING (tenant)
			  WHERE s.tenant = '$tenant' AND length(s.role_password) > 0
			    AND position(neon_platform.uri_encode(s.role_password) IN neon_connection_uri('$tenant')) > 0"),
		'1', "$label: its password is in tenant_secrets and in neon_connection_uri()");
	my ($pw) = map { $_->[0] } @{ query_rows($node, "SELECT role_password FROM neon_platform.tenant_secrets WHERE tenant = '$tenant'") };
	ok(defined $pw && $pw eq emulator_password($tenant), "$label: the stored password is the one the emulator gave the role");
}

###########################################################################
note 'part 1: a client session holds the row of tenant "held" while its create is in flight';

my %h = provision($node, [ 'held', 'free' ]);
my $held_job = $h{held};
is($emu->wait_requests('POST', $POSTS, 1, timeout => 30), 1, 'the create of "held" reached the emulator (answer due in 2 s)');

my $bg = $node->background_psql('postgres');
my $bgpid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_safe('BEGIN');
is($bg->query_safe("SELECT neon_provision('held', 'free')"), $held_job,
	'in an open transaction, neon_provision(held) returns the job already queued');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_locks WHERE pid = $bgpid
		    AND (locktype = 'tuple'
		         OR (relation = 'neon_platform.tenants'::regclass AND mode NOT IN ('AccessShareLock', 'RowExclusiveLock')))"),
	'0', 'pg_locks: after neon_provision the session holds no tuple lock and no row-lock mode on tenants');
SKIP:
{
	skip 'pgrowlocks is not available', 1 unless $have_pgrowlocks;
	is($node->safe_psql('postgres', "SELECT count(*) FROM pgrowlocks('neon_platform.tenants') WHERE $bgpid = ANY (pids)"),
		'0', 'pgrowlocks: the session has locked no row of tenants');
}

$bg->query_safe("SELECT tenant FROM neon_platform.tenants WHERE tenant = 'held' FOR UPDATE");
my $lock_time = time();
my $logpos    = 0;
SKIP:
{
	skip 'pgrowlocks is not available', 1 unless $have_pgrowlocks;
	is($node->safe_psql('postgres', "SELECT count(*) FROM pgrowlocks('neon_platform.tenants') WHERE $bgpid = ANY (pids) AND 'For Update' = ANY (modes)"),
		'1', 'pgrowlocks: after SELECT ... FOR UPDATE the session holds the row of "held"');
}
is(held_state('held', $held_job), 'provisioning|running', 'the row was taken before the answer of the create came back');

ok(wait_log(qr/could not record the outcome of job $held_job now; trying again/, $logpos, 20),
	'the answer of "held" arrived and was set aside (server log: could not record ... now; trying again)');
note sprintf('answer of "held" set aside %.1f s after the row was taken', time() - $lock_time);
is(worker_pid($node), $wpid, 'the worker is still the same process');

$emu->config({ latency_ms => 0 });
note 'emulator latency back to 0; provisioning 4 batches of 5 tenants 2.5, 4.5, 6.5 and 8.5 s into the hold';
my ($others, $walls) = provision_batches('free', $lock_time, 2.5, 4.5, 6.5, 8.5);
sleep_until($lock_time + 10);
is(held_state('held', $held_job), 'provisioning|running',
	sprintf('after %.1f s of hold "held" is still provisioning and its job still running (the answer is held in memory)', time() - $lock_time));

my $delays = ready_delays($others);
note 'enqueue-to-ready of the 20 tenants (ready_at - created_at), sorted: ' . join(' ', map { sprintf('%.2f', $_) } @$delays);
is($node->safe_psql('postgres',
		"SELECT count(*) FROM neon_platform.tenants WHERE tenant LIKE 'free_-%' AND state = 'ready'"),
	'20', 'all 20 other tenants became ready while the row was held');
cmp_ok($delays->[-1], '<', $FAST, sprintf('each of them was ready within %.0f s of its enqueueing (slowest %.2f s)', $FAST, $delays->[-1]))
  or explain_slow($others);
my $max_wall = (sort { $b <=> $a } @$walls)[0];
cmp_ok($max_wall, '<', $FAST, sprintf('each batch of 5 was all ready within %.0f s as seen by the client (slowest batch %.2f s)', $FAST, $max_wall));
my $median = $delays->[ int(@$delays / 2) ];
cmp_ok($median, '<', 1.0, sprintf('the median enqueue-to-ready time stayed under 1 s (%.2f s)', $median));

note 'releasing the row (ROLLBACK of the client transaction)';
$bg->query_safe('ROLLBACK');
$bg->quit;
my $held_wall = wait_ready(['held'], 15);
ok(defined $held_wall, 'after the release "held" became ready');
note sprintf('"held" ready %.2f s after the release', $held_wall // -1);
cmp_ok($held_wall // 99, '<=', 6.0, '... within 6 s (the retry of a set-aside record waits at most 5 s)');
check_held_done('held', $held_job, 'part 1: held');
is($emu->count_requests('POST', $POSTS), 21, 'the emulator received 21 POST /projects for 21 tenants');
is($emu->count_requests('POST', $POSTS, status => 201), 21, '... all answered 201');
note_calls($node);

###########################################################################
note 'part 2: a prepared transaction holds the row of tenant "held2"';
SKIP:
{
	skip 'max_prepared_transactions is 0', 12
	  unless $node->safe_psql('postgres', 'SHOW max_prepared_transactions') > 0;

	$emu->config({ latency_ms => 2000 });
	my %h2 = provision($node, [ 'held2', 'free' ]);
	my $job2 = $h2{held2};
	is($emu->wait_requests('POST', $POSTS, 22, timeout => 30), 22, 'the create of "held2" reached the emulator');
	$logpos = -s $node->logfile;
	$node->safe_psql('postgres',
		"BEGIN; SELECT tenant FROM neon_platform.tenants WHERE tenant = 'held2' FOR UPDATE; PREPARE TRANSACTION 'hold_held2';");
	my $lock2 = time();
	is($node->safe_psql('postgres', "SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'hold_held2'"),
		'1', 'the prepared transaction holding the row exists (its session is gone)');
	is(held_state('held2', $job2), 'provisioning|running', 'the row was taken before the answer came back');
	ok(wait_log(qr/could not record the outcome of job $job2 now; trying again/, $logpos, 20),
		'the answer of "held2" was set aside');
	$emu->config({ latency_ms => 0 });

	my ($others2, $walls2) = provision_batches('prep', $lock2, 2.5, 6.5, 11.0);
	my $d2 = ready_delays($others2);
	note 'enqueue-to-ready of the 15 tenants, sorted: ' . join(' ', map { sprintf('%.2f', $_) } @$d2);
	is(scalar(grep { $_ < 900 } @$d2), 15, 'the 15 other tenants became ready while the prepared transaction held the row');
	cmp_ok($d2->[-1], '<', $FAST, sprintf('each within %.0f s of its enqueueing (slowest %.2f s)', $FAST, $d2->[-1]))
	  or explain_slow($others2);
	is(held_state('held2', $job2), 'provisioning|running', '"held2" is still provisioning while the prepared transaction lives');

	$node->safe_psql('postgres', "ROLLBACK PREPARED 'hold_held2'");
	my $w2 = wait_ready(['held2'], 15);
	ok(defined $w2, 'after ROLLBACK PREPARED "held2" became ready');
	note sprintf('"held2" ready %.2f s after ROLLBACK PREPARED', $w2 // -1);
	check_held_done('held2', $job2, 'part 2: held2');
}

is($node->safe_psql('postgres', "SELECT state, count(*) FROM neon_platform.jobs GROUP BY 1"),
	'succeeded|' . $node->safe_psql('postgres', 'SELECT count(*) FROM neon_platform.jobs'),
	'every job succeeded, none failed');
is(worker_pid($node), $wpid, 'the worker never restarted');
my $by_name = $emu->projects_by_name;
is_deeply([ grep { $by_name->{$_} > 1 } sort keys %$by_name ], [], 'no tenant has two projects');
is(scalar keys %$by_name, 37, '37 projects for 37 tenants (held, held2 and 35 others)');
my @leaks = secrets_leaked($node);
is_deeply(\@leaks, [], 'no secret in the log or tables');

done_testing();
