# 008_retention: finished jobs and their api_calls rows are deleted once they are older
# than neon_platform.job_retention; unfinished jobs and the tenants are never touched.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my $emu  = NeonEmulator->new(name => 'emu', operation_ms => 50);
my $node = neon_node('primary', $emu);
wait_worker_pid($node) or die 'no worker';

note 'five tenants provisioned with the default retention (7 days): nothing is pruned';
provision($node, tenants('keep', 5));
ok(wait_jobs_done($node, timeout => 60), 'the jobs ended');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE state = 'succeeded'"),
	'5', 'five succeeded jobs are kept');
is($node->safe_psql('postgres', 'SELECT count(*) FROM neon_platform.api_calls'), '5', 'and their five api_calls rows');

note 'a queued job must survive pruning: pause the worker and enqueue one more';
$node->append_conf('postgresql.conf', 'neon_platform.paused = on');
$node->reload;
poll_until($node, 'SHOW neon_platform.paused', 'on', timeout => 10) or die 'pause not applied';
sleep 1;
provision($node, tenants('waiting', 1));

note 'job_retention = 1s and a reload: the finished rows go at once';
sleep 2;
$node->append_conf('postgresql.conf', "neon_platform.job_retention = '1s'");
$node->reload;
ok(poll_until($node, "SELECT count(*) FROM neon_platform.jobs WHERE state = 'succeeded'", '0', timeout => 30),
	'succeeded jobs older than the retention are deleted');
is($node->safe_psql('postgres', 'SELECT count(*) FROM neon_platform.api_calls'), '0', 'their api_calls rows too');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.jobs"), 'queued', 'the queued job is still there');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenants WHERE state = 'ready'"),
	'5', 'tenants are never pruned');

note 'the queued job still runs once the worker is unpaused';
$node->append_conf('postgresql.conf', 'neon_platform.paused = off');
$node->reload;
ok(wait_jobs_done($node, timeout => 60), 'the last job ended');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.tenants WHERE tenant = 'waiting-001'"),
	'ready', 'and its tenant is ready');

$node->stop;
done_testing();
