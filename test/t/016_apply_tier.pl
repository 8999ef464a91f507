# 016_apply_tier: a tier's definition changes and the worker re-applies it to every tenant on it,
# as background jobs that first wait for the projects' running Neon operations, fail with Neon's
# reason when one of them failed, and never delay a person's provisioning.
#
# Round 1 waits by polling the operations; round 2 (operation_poll_interval = 0) lets the
# mutations meet 423 instead; both cost figures are noted. Round 3 makes an operation fail.
# Round 4 runs a fleet-wide re-apply at 20 % of a slow rate limit while a new tenant is provisioned.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my $emu = NeonEmulator->new(name => 'emu', operation_ms => 1500, rate_limit_rpm => 0, burst_rps => 0);
my $node = neon_node('primary', $emu,
	guc => { requests_per_minute => 100000, burst_per_second => 1000, settle_margin => 500 });
wait_worker_pid($node) or die 'no worker';

my $PATCH_PROJECT  = qr{^/api/v2/projects/[^/]+$};
my $PATCH_ENDPOINT = qr{^/api/v2/projects/[^/]+/endpoints/[^/]+$};
my $GET_OPERATION  = qr{^/api/v2/projects/[^/]+/operations(/[^/]+)?$};

# Provisions tenants of a tier and waits until they are ready (their operations may still run).
sub provision_ready
{
	my ($prefix, $n, $tier) = @_;
	provision($node, tenants($prefix, $n, tiers => [$tier]));
	ok(wait_jobs_done($node, timeout => 120), "$prefix: $n tenants provisioned") or diag_queue($node);
}

# Re-applies the tier by changing its suspend timeout; returns the jobs' states.
sub change_tier
{
	my ($tier, $suspend) = @_;
	$emu->clear_requests;
	$node->safe_psql('postgres',
		"UPDATE neon_platform.tiers SET suspend_timeout_seconds = $suspend, active_time_seconds = active_time_seconds + 1 WHERE name = '$tier'");
	ok(wait_jobs_done($node, timeout => 180), "tier $tier changed: the re-apply jobs ended");
	return $node->safe_psql('postgres',
		"SELECT state, count(*) FROM neon_platform.jobs WHERE kind = 'apply_tier' AND args->'plan'->>'suspend_timeout_seconds' = '$suspend' GROUP BY 1 ORDER BY 1");
}

# The emulator's view of one tenant's project: its quota and its endpoints' suspend timeouts.
sub project_settings
{
	my ($tenant) = @_;
	my $id = $node->safe_psql('postgres', "SELECT project_id FROM neon_platform.tenants WHERE tenant = '$tenant'");
	my (undef, $p) = $emu->api('GET', "/projects/$id");
	my (undef, $e) = $emu->api('GET', "/projects/$id/endpoints");
	return ($p->{project}{settings}{quota}{active_time_seconds},
		[ map { $_->{suspend_timeout_seconds} } @{ $e->{endpoints} } ]);
}

note 'round 1: re-apply right after provisioning: the operations are polled, no mutation meets 423';
provision_ready('poll', 10, 'free');
is(change_tier('free', 600), 'succeeded|10', 'ten apply_tier jobs succeeded');
my $log = $emu->requests;
my $polls = $emu->count_requests('GET', $GET_OPERATION, log => $log);
is($emu->count_requests('PATCH', $PATCH_PROJECT, log => $log), 10, 'one project PATCH per tenant');
is($emu->count_requests('PATCH', undef, log => $log, status => 423), 0, 'no PATCH met a running operation (423)');
cmp_ok($polls, '>=', 10, "the running operations were polled ($polls polls)");
is($emu->count_requests('PATCH', $PATCH_ENDPOINT, log => $log), 10, 'one endpoint PATCH per tenant (project defaults do not reach computes)');
my ($quota, $suspends) = project_settings('poll-001');
is($quota, $node->safe_psql('postgres', "SELECT active_time_seconds FROM neon_platform.tiers WHERE name = 'free'"),
	'the project has the new quota');
is_deeply($suspends, [600], 'its endpoint has the new suspend timeout');
my $per_tenant_poll = scalar(@$log) / 10;
note sprintf('polling: %d requests for 10 tenants (%.1f per tenant, %d of them operation polls)', scalar @$log,
	$per_tenant_poll, $polls);

note 'round 2: the same with operation_poll_interval = 0: the mutations meet 423 and back off';
$node->safe_psql('postgres', 'ALTER SYSTEM SET neon_platform.operation_poll_interval = 0');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
provision_ready('lock', 10, 'pro');
is(change_tier('pro', 900), 'succeeded|10', 'ten apply_tier jobs succeeded without polling');
$log = $emu->requests;
is($emu->count_requests('GET', $GET_OPERATION, log => $log), 0, 'no operation was polled');
my $locked = $emu->count_requests('PATCH', undef, log => $log, status => 423);
note sprintf('423 as the signal: %d requests for 10 tenants (%.1f per tenant, %d answered 423)', scalar @$log,
	scalar(@$log) / 10, $locked);
(undef, $suspends) = project_settings('lock-001');
is_deeply($suspends, [900], 'the endpoint has the new suspend timeout');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET neon_platform.operation_poll_interval');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');

note 'round 3: an operation the re-apply waits for ends failed: the job fails with Neon\'s reason';
$emu->config({ operation_outcomes => [ { action => 'start_compute', status => 'failed',
			error => 'compute failed to start', count => 1 } ] });
provision_ready('opfail', 1, 'free');
is(change_tier('free', 700), "failed|1\nsucceeded|10", 'the tenant with the failed operation failed its re-apply, the others succeeded')
  or diag_queue($node);
like($node->safe_psql('postgres', "SELECT last_error FROM neon_platform.jobs WHERE kind = 'apply_tier' AND tenant = 'opfail-001' ORDER BY id DESC LIMIT 1"),
	qr/Neon operation \S+ \(start_compute\) of project \S+ ended failed: compute failed to start/, 'the reason is Neon\'s');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.tenants WHERE tenant = 'opfail-001'"), 'ready',
	'the tenant stays ready (usable in its old settings)');
is($emu->count_requests('PATCH', $PATCH_PROJECT, log => $emu->requests), 10,
	'the failed operation cost no PATCH for its project');
$emu->config({ operation_outcomes => [], operation_ms => 50 });

note 'round 4: a fleet-wide re-apply at 20 % of a slow rate limit; a new tenant is ready within a second';
provision_ready('fleet', 20, 'pro');
$node->safe_psql('postgres', 'ALTER SYSTEM SET neon_platform.requests_per_minute = 600');
$node->safe_psql('postgres', 'ALTER SYSTEM SET neon_platform.burst_per_second = 20');
$node->safe_psql('postgres', 'ALTER SYSTEM SET neon_platform.max_inflight_requests = 10');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
sleep 2;
$emu->clear_requests;
$node->safe_psql('postgres', "UPDATE neon_platform.tiers SET suspend_timeout_seconds = 1200 WHERE name = 'pro'");
ok(poll_until($node,
		"SELECT count(*) > 0 FROM neon_platform.jobs WHERE kind = 'apply_tier' AND state = 'succeeded' AND args->'plan'->>'suspend_timeout_seconds' = '1200'",
		't', timeout => 60), 'the re-apply is under way');
my %urgent = provision($node, [ 'urgent', 'free' ]);
ok(poll_until($node, "SELECT state FROM neon_platform.tenants WHERE tenant = 'urgent'", 'ready', timeout => 30),
	'the urgent tenant is ready');
my $took = $node->safe_psql('postgres',
	"SELECT round(extract(epoch FROM finished_at - created_at)::numeric, 2) FROM neon_platform.jobs WHERE id = $urgent{urgent}");
note "urgent provisioning took $took s while the re-apply ran";
cmp_ok($took, '<', 1.0, 'a person\'s provisioning did not queue behind the background work');
cmp_ok($node->safe_psql('postgres',
		"SELECT count(*) FROM neon_platform.jobs WHERE kind = 'apply_tier' AND state IN ('queued', 'running')"),
	'>', 0, '... which was still going on when it finished');
ok(wait_jobs_done($node, timeout => 180), 'the fleet-wide re-apply ended');
is($node->safe_psql('postgres',
		"SELECT state, count(*) FROM neon_platform.jobs WHERE kind = 'apply_tier' AND args->'plan'->>'suspend_timeout_seconds' = '1200' GROUP BY 1"),
	'succeeded|30', 'all 30 re-applies succeeded (20 fleet tenants, 10 of round 2)');
my @background = map { $_->{at} } grep { $_->{method} eq 'PATCH' || $_->{path} =~ m{/endpoints$} } @{ $emu->requests };
my $busiest = max_in_window(\@background, 10);
note sprintf('background: %d requests, at most %d in any 10 s (share 20 %%: 120/min, bursts of 4)', scalar @background, $busiest);
cmp_ok($busiest, '<=', 4 + 20 + 1, 'background work kept to its share of the rate limit (at most 4 + 2/s in any 10 s)');

done_testing();
