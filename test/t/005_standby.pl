# 005_standby: a streaming standby with the same configuration does nothing; once promoted,
# its worker carries out the jobs that were enqueued on the primary before the failover.
#
# The standby points at a second emulator, so any call it makes is visible there.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my $emu1 = NeonEmulator->new(name => 'emu-primary', operation_ms => 50);
my $emu2 = NeonEmulator->new(name => 'emu-standby', operation_ms => 50);

my $primary = neon_node('primary', $emu1, allows_streaming => 1);
wait_worker_pid($primary) or die 'no worker on the primary';

note 'the primary provisions 5 tenants';
my %done = provision($primary, tenants('before', 5));
ok(wait_jobs_done($primary, timeout => 60), 'primary: first 5 jobs done');

note 'a standby from a base backup, pointed at the second emulator';
$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->append_conf('postgresql.conf', "neon_platform.api_url = '" . $emu2->api_url . "'\n");
$standby->start;

note 'pause the primary worker, then enqueue 10 more tenants on the primary';
$primary->append_conf('postgresql.conf', "neon_platform.paused = on\n");
$primary->reload;
sleep 2;    # let the worker take the SIGHUP
my $posts_before = $emu1->count_requests('POST', qr{^/api/v2/projects$});
my %queued = provision($primary, tenants('failover', 10));
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE state = 'queued'"),
	'10', 'the standby sees the 10 queued jobs');
sleep 3;
is($emu1->count_requests('POST', qr{^/api/v2/projects$}), $posts_before, 'the paused primary made no call');

note 'the standby does nothing';
is($standby->safe_psql('postgres', "SELECT pg_is_in_recovery()"), 't', 'standby is in recovery');
is($standby->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'neon_platform worker'"),
	'0', 'no neon_platform worker on the standby');
is(scalar @{ $emu2->requests }, 0, 'the standby made no call to its emulator');

note 'failover: stop the primary, promote the standby';
$primary->stop;
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()');
ok(wait_worker_pid($standby, timeout => 30), 'the promoted standby runs a worker');
ok(wait_jobs_done($standby, timeout => 90), 'the promoted standby drained the queue');
my $ids = join ',', values %queued;
is($standby->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE id IN ($ids) AND state = 'succeeded'"),
	'10', 'the 10 jobs enqueued before the failover succeeded');
is($standby->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenants WHERE state = 'ready'"),
	'15', 'all 15 tenants ready');
is($emu2->count_requests('POST', qr{^/api/v2/projects$}), 10, 'the new primary created exactly the 10 queued projects');
is(scalar @{ $emu2->projects }, 10, '10 projects in its emulator');
is($emu1->count_requests('POST', qr{^/api/v2/projects$}), 5, 'the old primary created only the first 5');

done_testing();
