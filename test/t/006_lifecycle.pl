# 006_lifecycle: the worker as a DBA meets it: visible in pg_stat_activity, restarted after
# pg_terminate_backend with its backlog drained, not in the way of DROP DATABASE (idle or
# busy), following a changed api_url after pg_reload_conf(), and taking no job while paused.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use NeonEmulator;
use NeonTest;

my $POSTS = qr{^/api/v2/projects$};
my $emu  = NeonEmulator->new(name => 'emu', latency_ms => 200, operation_ms => 50);
my $node = neon_node('primary', $emu);

note 'the worker is visible';
my $pid = wait_worker_pid($node) or die 'no worker';
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'neon_platform worker'"),
	'1', 'exactly one backend with backend_type "neon_platform worker"');
is($node->safe_psql('postgres', "SELECT pid FROM neon_platform.worker"), $pid, 'the neon_platform.worker view shows it');

note 'pg_terminate_backend while a backlog is being worked off';
my %jobs = provision($node, tenants('term', 30));
$emu->wait_requests('POST', $POSTS, 5, timeout => 30);
my $logpos = -s $node->logfile;
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)"), 't', "terminated worker $pid");
my $pid2 = wait_worker_pid($node, not => $pid, timeout => 30);
ok($pid2, 'the worker came back with a new pid (' . ($pid2 // 'none') . ')');
ok($node->log_contains(qr/background worker "neon_platform worker" \(PID \d+\) exited with exit code 1/, $logpos), 'it exited non-zero, so the postmaster restarted it');
ok(wait_jobs_done($node, timeout => 90), 'the backlog drained after the restart');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE state = 'succeeded'"), '30', 'all 30 jobs succeeded');
my $by_name = $emu->projects_by_name;
is(scalar(grep { $by_name->{$_} == 1 } keys %$by_name), 30, '30 projects, one per tenant');

# drop_database_time($name): seconds DROP DATABASE took (or undef on a 60 s timeout).
sub drop_database_time
{
	my ($name) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $name");
	my $timed_out = 0;
	my $t = time;
	my ($ret, $out, $err) = $node->psql('postgres', "DROP DATABASE $name", timeout => 60, timed_out => \$timed_out);
	my $took = time - $t;
	diag "DROP DATABASE $name: ret $ret, $err" if $ret;
	return ($ret == 0 && !$timed_out) ? $took : undef;
}

note 'DROP DATABASE of another database while the worker idles';
my $took = drop_database_time('other_idle');
ok(defined $took && $took < 10, sprintf('DROP DATABASE returned in %.2f s while idle', $took // -1));

note 'DROP DATABASE of another database while the worker has calls in flight';
$emu->config({ latency_ms => 2000 });
%jobs = provision($node, tenants('busy', 20));
$emu->wait_requests('POST', $POSTS, 35, timeout => 30);
my $in_flight = $node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE state = 'running'");
note "$in_flight jobs running";
$took = drop_database_time('other_busy');
ok(defined $took && $took < 10, sprintf('DROP DATABASE returned in %.2f s while busy', $took // -1));
ok(wait_jobs_done($node, timeout => 90), 'the busy batch finished');
$emu->config({ latency_ms => 0 });

note 'pg_reload_conf() applies a new api_url';
my $emu2 = NeonEmulator->new(name => 'emu2', operation_ms => 50);
my $posts1 = $emu->count_requests('POST', $POSTS);
$node->safe_psql('postgres', "ALTER SYSTEM SET neon_platform.api_url = '" . $emu2->api_url . "'");
$node->safe_psql('postgres', "SELECT pg_reload_conf()");
sleep 2;
is(worker_pid($node), $pid2, 'the worker kept running through the reload');
%jobs = provision($node, tenants('reload', 5));
ok(wait_jobs_done($node, timeout => 60), 'jobs after the reload finished');
is($emu2->count_requests('POST', $POSTS), 5, 'the 5 creates went to the new api_url');
is($emu->count_requests('POST', $POSTS), $posts1, 'none to the old one');

note 'neon_platform.paused = on: no job is taken';
$node->safe_psql('postgres', "ALTER SYSTEM SET neon_platform.paused = on");
$node->safe_psql('postgres', "SELECT pg_reload_conf()");
sleep 2;
%jobs = provision($node, tenants('paused', 3));
sleep 3;
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE tenant LIKE 'paused-%' AND state = 'queued' AND attempts = 0"),
	'3', 'paused: the 3 jobs stay queued, untouched');
is($emu2->count_requests('POST', $POSTS), 5, 'paused: no call made');
$node->safe_psql('postgres', "ALTER SYSTEM RESET neon_platform.paused");
$node->safe_psql('postgres', "SELECT pg_reload_conf()");
ok(wait_jobs_done($node, timeout => 60), 'unpaused: the jobs ran');
is($emu2->count_requests('POST', $POSTS), 8, 'unpaused: 3 more creates');

note 'a fast shutdown is not held up by the worker';
my $t = time;
$node->stop('fast');
cmp_ok(time - $t, '<', 15, sprintf('pg_ctl stop -m fast took %.1f s', time - $t));

done_testing();
