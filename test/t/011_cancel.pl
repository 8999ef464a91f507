# 011_cancel: pg_cancel_backend on the worker turns no success into a failure.
#
# Each pass of the worker loop is wrapped: a cancel rolls back only that pass's transaction
# (or only the subtransaction recording one job), and the answers held in memory are recorded
# on a later pass. The worker is not restarted by a cancel.
#
# Round 1: 20 creates in flight (emulator latency 1 s), a storm of cancels every 20-50 ms for
# 2 s, across the moment the answers come back.
# Round 2: the same, with recording slowed down (a trigger sleeps 30 ms per api_calls row, so
# writing 20 answers takes 0.6 s) and the storm starting 0.15 s after the answers came back, so
# that cancels land while the worker is writing the answers of successful creates. (In round 1
# a cancel that arrives between passes makes the next pass fail at its first interrupt check,
# before it writes anything: a dense storm rarely lands inside a recording.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use NeonEmulator;
use NeonTest;

my $emu  = NeonEmulator->new(name => 'emu', latency_ms => 1000, operation_ms => 50);
my $node = neon_node('primary', $emu);
my $wpid = wait_worker_pid($node) or die 'no worker';
note "worker pid $wpid";

my $POSTS = qr{^/api/v2/projects$};

# cancel_storm(pid, seconds, min_ms, max_ms): pg_cancel_backend(pid) at random intervals
# until the time is up; returns how many signals were sent. Runs in the server, so the
# intervals are what they say.
$node->safe_psql('postgres', q{
CREATE FUNCTION public.cancel_storm(target int, seconds float8, min_ms int, max_ms int)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    stop_at timestamptz := clock_timestamp() + seconds * interval '1 second';
    sent int := 0;
BEGIN
    WHILE clock_timestamp() < stop_at LOOP
        IF pg_cancel_backend(target) THEN
            sent := sent + 1;
        END IF;
        PERFORM pg_sleep((min_ms + random() * (max_ms - min_ms)) / 1000.0);
    END LOOP;
    RETURN sent;
END $$;
CREATE FUNCTION public.slow_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(0.03);
    RETURN NEW;
END $$;
});

# count_log($re, $offset): matching lines of the server log after $offset.
sub count_log
{
	my ($re, $offset) = @_;
	return scalar grep { $_ =~ $re } split /\n/, slurp_file($node->logfile, $offset);
}

# round($label, $prefix, $n, storm => s, storm_delay => s): provisions $n tenants, waits until
# their creates reached the emulator and until storm_delay after the last one arrived, then
# cancels the worker every 20-50 ms for storm seconds; checks the outcome. Returns the log
# offset where the round began and how many recordings a cancel interrupted.
sub round
{
	my ($label, $prefix, $n, %o) = @_;
	my $logpos      = -s $node->logfile;
	my $posts_before = $emu->count_requests('POST', $POSTS);
	my $calls_before = $node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE method = 'POST'");
	my %jobs = provision($node, tenants($prefix, $n));
	my $seen = $emu->wait_requests('POST', $POSTS, $posts_before + $n, timeout => 30) - $posts_before;
	is($seen, $n, "$label: the $n creates are in flight (answers due 1 s after they arrived)");
	# The arrival of the last create at the emulator; its answer leaves 1 s later.
	my ($t_sent) = sort { $b <=> $a } map { $_->{at} } grep { $_->{method} eq 'POST' && $_->{path} =~ $POSTS } @{ $emu->requests };
	my $wait = $t_sent + $o{storm_delay} - time();
	usleep(int($wait * 1e6)) if $wait > 0;
	my $t_storm = time();
	my $hits = $node->safe_psql('postgres', "SELECT public.cancel_storm($wpid, $o{storm}, 20, 50)");
	note sprintf('%s: storm from %.2f s to %.2f s after the creates arrived: %d cancels sent to the worker',
		$label, $t_storm - $t_sent, time() - $t_sent, $hits);
	cmp_ok($hits, '>=', int($o{storm} * 1000 / 50 * 0.8), "$label: the storm sent cancel after cancel ($hits)");

	ok(wait_jobs_done($node, timeout => 60), "$label: the queue drained");
	my $ids   = join ',', values %jobs;
	my $names = join ',', map { "'$_'" } keys %jobs;
	is($node->safe_psql('postgres', "SELECT state || ':' || count(*) FROM neon_platform.jobs WHERE id IN ($ids) GROUP BY state"),
		"succeeded:$n", "$label: all $n jobs succeeded, none failed");
	is($node->safe_psql('postgres', "SELECT state || ':' || count(*) FROM neon_platform.tenants WHERE tenant IN ($names) GROUP BY state"),
		"ready:$n", "$label: all $n tenants ready (none failed)");
	is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenant_secrets WHERE tenant IN ($names) AND length(role_password) > 0"),
		$n, "$label: a password for each of the $n tenants in tenant_secrets");
	is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenants WHERE tenant IN ($names) AND neon_connection_uri(tenant) LIKE 'postgresql://neondb_owner:%'"),
		$n, "$label: neon_connection_uri works for each");
	my $by_name = $emu->projects_by_name;
	is(scalar(grep { ($by_name->{"tenant-$_"} // 0) == 1 } keys %jobs), $n, "$label: exactly one project per tenant in the emulator");
	is($emu->count_requests('POST', $POSTS) - $posts_before, $n, "$label: one POST /projects per tenant ($n), no create sent twice");
	is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE method = 'POST'") - $calls_before,
		$n, "$label: each POST recorded exactly once in api_calls (cancelled recordings left no row and lost none)");
	is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls c JOIN neon_platform.jobs j ON j.id = c.job_id WHERE j.id IN ($ids) AND c.method = 'POST' AND c.status = 201"),
		$n, "$label: ... each with its 201");
	is(worker_pid($node), $wpid, "$label: the worker pid did not change (a cancel does not restart it)");

	my $failed_passes = count_log(qr/worker pass failed, trying again in 1 s: canceling statement due to user request/, $logpos);
	my $set_aside     = count_log(qr/could not record the outcome of job \d+ now; trying again: canceling statement due to user request/, $logpos);
	note "$label: server log: $failed_passes passes failed by a cancel; $set_aside jobs whose recording was cancelled and retried";
	cmp_ok($failed_passes + $set_aside, '>', 0, "$label: the cancels reached the worker (the log mentions them)");
	is(count_log(qr/restarting the worker|terminated by signal|exited with exit code/, $logpos), 0,
		"$label: no worker exit or restart in the log");
	return ($logpos, $set_aside);
}

note 'round 1: 20 creates in flight, cancels every 20-50 ms for 2 s across the answers';
round('round 1', 'c', 20, storm => 2.0, storm_delay => 0.5);
note_calls($node);

note 'round 2: recording slowed to 30 ms per api_calls row; cancels every 20-50 ms for 3 s from 0.15 s after the answers';
$node->safe_psql('postgres',
	'CREATE TRIGGER slow_record BEFORE INSERT ON neon_platform.api_calls FOR EACH ROW EXECUTE FUNCTION public.slow_record()');
my (undef, $set_aside) = round('round 2', 'd', 20, storm => 3.0, storm_delay => 1.15);
cmp_ok($set_aside, '>', 0,
	"round 2: some cancels hit while the worker was recording answers ($set_aside recordings cancelled, set aside, then written)");
$node->safe_psql('postgres', 'DROP TRIGGER slow_record ON neon_platform.api_calls');

is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE state <> 'succeeded'"),
	'0', 'no job in any other state than succeeded');
is(scalar @{ $emu->projects }, 40, '40 projects in the emulator for 40 tenants');
my @leaks = secrets_leaked($node);
is_deeply(\@leaks, [], 'no secret in the log or tables');

done_testing();
