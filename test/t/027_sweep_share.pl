# 027_sweep_share: a sweep keeps to neon_platform.sweep_rate_share of the rate limit, and work a
# person waits for (a provisioning, a restore) enqueued while it runs starts within a second.
# At 600 requests a minute and bursts of 20, a share of 10 % gives sweeps 60 a minute in bursts
# of 2; 4,000 other projects in the free organization make the sweep 11 + 1 list pages long, plus
# its consumption page and 5 detail reads.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP qw(decode_json);
use NeonEmulator;
use NeonTest;

my $emu  = NeonEmulator->new(name => 'emu', operation_ms => 50, rate_limit_rpm => 0, burst_rps => 0);
my $node = neon_node('primary', $emu,
	guc => { requests_per_minute => 600, burst_per_second => 20, sweep_rate_share => 10 });
wait_worker_pid($node) or die 'no worker';

my %jobs = provision($node, tenants('sw', 6, tiers => ['free']));
ok(wait_jobs_done($node, timeout => 60), '6 tenants provisioned');
my %project = map { @$_ } @{ query_rows($node, 'SELECT tenant, project_id FROM neon_platform.tenants') };
$emu->usage($project{"sw-00$_"}, { active_time_seconds => 306000 }) for 1 .. 5;
my $made = $emu->control('POST', '/projects', { org_id => $NeonEmulator::ORGS{free}, count => 4000, name_prefix => 'other-' });
is(scalar @{ $made->{project_ids} }, 4000, '4,000 other projects in the free organization');
sleep 1;

$emu->clear_requests;
my $sweep = $node->safe_psql('postgres', 'SELECT neon_sync_usage()');
ok(poll_until($node, "SELECT (progress->>'pages')::int >= 3 FROM neon_platform.jobs WHERE id = $sweep", 't', timeout => 30),
	'the sweep is under way');
my %urgent = provision($node, [ 'urgent', 'free' ]);
my $restore = $node->safe_psql('postgres', "SELECT neon_restore('sw-006', now() - interval '1 second')");
ok(poll_until($node, "SELECT state FROM neon_platform.tenants WHERE tenant = 'urgent'", 'ready', timeout => 30),
	'the tenant provisioned during the sweep is ready');
is($node->safe_psql('postgres', "SELECT neon_wait($restore)"), 'succeeded', 'the restore enqueued during the sweep succeeded');
for my $job ([ 'provisioning', $urgent{urgent} ], [ 'restore', $restore ])
{
	my $waited = $node->safe_psql('postgres',
		"SELECT round(extract(epoch FROM min(c.called_at) - j.created_at)::numeric, 3)
		   FROM neon_platform.jobs AS j JOIN neon_platform.api_calls AS c ON c.job_id = j.id WHERE j.id = $job->[1]
		  GROUP BY j.created_at");
	note "the $job->[0] sent its first request $waited s after its commit";
	cmp_ok($waited, '<', 1.0, "the $job->[0] started within a second, not behind the sweep");
}
isnt($node->safe_psql('postgres', "SELECT state FROM neon_platform.jobs WHERE id = $sweep"), 'succeeded',
	'... while the sweep was still going on');

is($node->safe_psql('postgres', "SELECT neon_wait($sweep, '120 s')"), 'succeeded', 'the sweep succeeded');
ok(wait_jobs_done($node, timeout => 60), 'its detail reads ended');
my $result = decode_json($node->safe_psql('postgres', "SELECT result FROM neon_platform.jobs WHERE id = $sweep"));
like("$result->{pages} $result->{projects} $result->{detail_reads}", qr/^12 400[67] 5$/,
	'12 list pages for 4,006 projects (4,007 if the list met the new tenant), 5 detail reads');
my %near = map { ("/api/v2/projects/" . $project{"sw-00$_"} => 1) } 1 .. 5;
my @sweep = map { $_->{at} } grep {
	$_->{method} eq 'GET' && ($_->{path} =~ m{^/api/v2/(projects|consumption_history/v2/projects)$} || $near{ $_->{path} })
} @{ $emu->requests };
my $spread = $sweep[-1] - $sweep[0];
my $busiest = max_in_window(\@sweep, 10);
note sprintf('sweep: %d requests over %.1f s, at most %d in any 10 s (share 10 %%: 60/min, bursts of 2)',
	scalar @sweep, $spread, $busiest);
cmp_ok(scalar @sweep, '>=', 12 + 1 + 5, 'every list page, the consumption page and the detail reads were requested');
cmp_ok($busiest, '<=', 2 + 10 + 1, 'the sweep kept to its share of the rate limit (at most 2 + 1/s in any 10 s)');
cmp_ok($spread, '>=', (scalar(@sweep) - 2) * 0.9, 'its requests came about a second apart');

done_testing();
