# 017_set_tier: tenants move to another tier. Upgrades from the free to the paid organization
# share transfer calls (up to 400 projects each), then get the new tier's quotas with the paid
# organization's key, at 1 request per tenant plus 1 per 400 when compute settings stay; a move
# within one organization needs no transfer; an organization key configured as the personal key
# fails the transfer with a reason a person can act on and leaves the tenant usable in its old
# tier. Downgrades to the free organization: one that fits goes through (endpoints shrunk before
# the transfer), one whose fresh usage does not fit is refused by the worker, then by
# neon_set_tier() with the list, and goes through with force.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my $emu = NeonEmulator->new(name => 'emu', operation_ms => 50, rate_limit_rpm => 0, burst_rps => 0);
my $node = neon_node('primary', $emu,
	guc => { requests_per_minute => 100000, burst_per_second => 1000, max_inflight_requests => 64 });
wait_worker_pid($node) or die 'no worker';

my $TRANSFER = qr{^/api/v2/organizations/[^/]+/projects/transfer$};
my $N = 450;

note "$N free tenants upgraded to pro in one transaction";
provision($node, tenants('up', $N, tiers => ['free']));
ok(wait_jobs_done($node, timeout => 180), "$N free tenants provisioned");
sleep 1;    # their creation operations end (50 ms each)
$emu->clear_requests;
$node->safe_psql('postgres',
	"SELECT count(neon_set_tier(tenant, 'pro')) FROM neon_platform.tenants WHERE tenant LIKE 'up-%'");
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenants WHERE state = 'changing_tier'"),
	$N, 'the tenants are changing tier');
ok(wait_jobs_done($node, timeout => 300), 'the tier changes ended');
is($node->safe_psql('postgres', "SELECT state, count(*) FROM neon_platform.jobs WHERE kind = 'change_tier' GROUP BY 1"),
	"succeeded|$N", "$N change_tier jobs succeeded");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM neon_platform.tenants WHERE tier = 'pro' AND organization = 'paid' AND state = 'ready' AND org_id = '$NeonEmulator::ORGS{paid}'"),
	$N, 'every tenant is ready on pro, in the paid organization');
my $log = $emu->requests;
my $transfers = $emu->count_requests('POST', $TRANSFER, log => $log);
cmp_ok($transfers, '<=', 2, "$N upgrades cost $transfers transfer calls (400 projects each at most)");
my $in_paid = grep { $_->{_org} eq 'paid' && $_->{name} =~ /^tenant-up-/ } @{ $emu->projects };
is($in_paid, $N, "the emulator holds the $N projects in the paid organization");
my $pid = $node->safe_psql('postgres', "SELECT project_id FROM neon_platform.tenants WHERE tenant = 'up-001'");
my (undef, $p) = $emu->api('GET', "/projects/$pid");
is($p->{project}{settings}{quota}{active_time_seconds},
	$node->safe_psql('postgres', "SELECT active_time_seconds FROM neon_platform.tiers WHERE name = 'pro'"),
	'the project has the pro quota');
is($p->{project}{history_retention_seconds}, 604800, 'and the pro restore window');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE path ~ '/projects/transfer' AND status = 200"),
	$N, 'each job recorded the transfer that carried it');
my $per_tenant = scalar(@$log) / $N;
note sprintf('%d requests for %d upgrades: %.3f per tenant (%d transfers, %d project PATCHes, %d endpoint reads, %d operation reads)',
	scalar @$log, $N, $per_tenant, $transfers,
	$emu->count_requests('PATCH', qr{^/api/v2/projects/[^/]+$}, log => $log),
	$emu->count_requests('GET', qr{/endpoints$}, log => $log),
	$emu->count_requests('GET', qr{/operations}, log => $log));
cmp_ok(scalar @$log, '<=', $N + 2, 'at most 1 request per upgrade plus 1 per 400 (free and pro have the same compute)');

note 'a move within one organization needs no transfer';
$node->safe_psql('postgres',
	"INSERT INTO neon_platform.tiers (name, organization, active_time_seconds, restore_window_seconds, max_branches, max_snapshots) VALUES ('pro-plus', 'paid', 5400000, 604800, 1000, 10)"
);
$emu->clear_requests;
my $job = $node->safe_psql('postgres', "SELECT neon_set_tier('up-001', 'pro-plus')");
is($node->safe_psql('postgres', "SELECT neon_wait($job)"), 'succeeded', 'the move to pro-plus succeeded');
is($emu->count_requests('POST', $TRANSFER), 0, 'no transfer call');
(undef, $p) = $emu->api('GET', "/projects/$pid");
is($p->{project}{settings}{quota}{active_time_seconds}, 5400000, 'the project has the pro-plus quota');
is($node->safe_psql('postgres', "SELECT tier, organization FROM neon_platform.tenants WHERE tenant = 'up-001'"),
	'pro-plus|paid', 'the tenant is on pro-plus');

my @leaks = secrets_leaked($node);
is_deeply(\@leaks, [], 'no secret in the log or tables');

note 'an organization key configured as the personal key (ALTER SYSTEM: PostgreSQL logs the value)';
provision($node, [ 'orgkey', 'free' ]);
ok(wait_jobs_done($node), 'tenant orgkey provisioned');
$node->safe_psql('postgres', "ALTER SYSTEM SET neon_platform.personal_api_key = '$NeonEmulator::KEYS{free}'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
sleep 1;
$job = $node->safe_psql('postgres', "SELECT neon_set_tier('orgkey', 'pro')");
is($node->safe_psql('postgres', "SELECT neon_wait($job)"), 'failed', 'the change failed');
like($node->safe_psql('postgres', "SELECT last_error FROM neon_platform.jobs WHERE id = $job"),
	qr/personal_api_key must be the personal API key of an admin of both organizations/, 'with a reason a person can act on');
is($node->safe_psql('postgres', "SELECT state, tier, organization FROM neon_platform.tenants WHERE tenant = 'orgkey'"),
	'ready|free|free', 'the tenant stays ready in its old tier');
like($node->safe_psql('postgres', 'SELECT neon_connection_uri(\'orgkey\')'), qr{^postgresql://}, 'and usable');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET neon_platform.personal_api_key');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');

note 'a project with an integration (422) fails alone; a full destination (406) fails with Neon\'s limits';
provision($node, [ 'integ', 'free' ], [ 'plain', 'free' ], [ 'full', 'free' ]);
ok(wait_jobs_done($node), 'three more tenants provisioned');
sleep 1;
my %pid = map { @$_ } @{ query_rows($node, "SELECT tenant, project_id FROM neon_platform.tenants WHERE tenant IN ('integ', 'plain', 'full')") };
$emu->control('POST', '/integration', { project_id => $pid{integ}, integration => 'github' });
$node->safe_psql('postgres', "SELECT neon_set_tier(t, 'pro') FROM unnest(ARRAY['integ', 'plain']) AS t");
ok(wait_jobs_done($node, timeout => 120), 'both upgrades ended');
is($node->safe_psql('postgres', "SELECT tenant, state, tier, organization FROM neon_platform.tenants WHERE tenant IN ('integ', 'plain') ORDER BY 1"),
	"integ|ready|free|free\nplain|ready|pro|paid", 'the tenant with an integration stays on free, the other moved');
like($node->safe_psql('postgres', "SELECT last_error FROM neon_platform.tenants WHERE tenant = 'integ'"),
	qr/the project has a GitHub or Vercel integration, which Neon does not move; remove it first/, 'with a reason a person can act on');
$emu->control('POST', '/org_limit', { org_id => $NeonEmulator::ORGS{paid}, name => 'projects', value => 1 });
$job = $node->safe_psql('postgres', "SELECT neon_set_tier('full', 'pro')");
is($node->safe_psql('postgres', "SELECT neon_wait($job)"), 'failed', 'the move into a full organization failed');
like($node->safe_psql('postgres', "SELECT last_error FROM neon_platform.jobs WHERE id = $job"),
	qr/the destination organization cannot take the project.*projects_count/, 'with Neon\'s limits');
is($node->safe_psql('postgres', "SELECT state, tier FROM neon_platform.tenants WHERE tenant = 'full'"), 'ready|free',
	'the tenant stays ready on free');
$emu->control('POST', '/org_limit', { org_id => $NeonEmulator::ORGS{paid}, name => 'projects', value => 30000 });

note 'a downgrade that fits: endpoints shrink to the free limits, then the transfer';
$node->safe_psql('postgres',
	"INSERT INTO neon_platform.tiers (name, organization, autoscaling_max_cu, active_time_seconds, restore_window_seconds, max_branches, max_snapshots) VALUES ('big', 'paid', 8, 5400000, 604800, 1000, 10)"
);
$job = $node->safe_psql('postgres', "SELECT neon_set_tier('up-002', 'big')");
is($node->safe_psql('postgres', "SELECT neon_wait($job)"), 'succeeded', 'up-002 is on big (8 CU)');
my $pid2 = $node->safe_psql('postgres', "SELECT project_id FROM neon_platform.tenants WHERE tenant = 'up-002'");
$emu->clear_requests;
$job = $node->safe_psql('postgres', "SELECT neon_set_tier('up-002', 'free')");
is($node->safe_psql('postgres', "SELECT neon_wait($job)"), 'succeeded', 'the downgrade to free succeeded');
is($node->safe_psql('postgres', "SELECT state, tier, organization, org_id FROM neon_platform.tenants WHERE tenant = 'up-002'"),
	"ready|free|free|$NeonEmulator::ORGS{free}", 'the tenant is ready on free, in the free organization');
my (undef, $eps) = $emu->api('GET', "/projects/$pid2/endpoints", key => 'free');
is($eps->{endpoints}[0]{autoscaling_limit_max_cu}, 2, 'its endpoint was shrunk to 2 CU');
(undef, $p) = $emu->api('GET', "/projects/$pid2", key => 'free');
is($p->{project}{history_retention_seconds}, 86400, 'and it has the free restore window');
$log = $emu->requests;
my @paths = map { "$_->{method} $_->{path}" } @$log;
like(join("\n", @paths),
	qr{GET /api/v2/projects/$pid2\n.*GET /api/v2/projects/$pid2/branches\n.*GET /api/v2/projects/$pid2/snapshots\n.*PATCH /api/v2/projects/$pid2/endpoints/[^\n]+\n.*POST /api/v2/organizations/[^/]+/projects/transfer\n.*PATCH /api/v2/projects/$pid2\n}s,
	'check, shrink, transfer, quotas: in that order');
note sprintf('a downgrade cost %d requests: %s', scalar @paths, join(', ', @paths));
is($node->safe_psql('postgres', "SELECT branches, snapshots FROM neon_platform.usage WHERE tenant = 'up-002' ORDER BY period_start DESC LIMIT 1"),
	'1|0', 'the usage it read is stored');

note 'a downgrade whose fresh usage does not fit';
my $pid3 = $node->safe_psql('postgres', "SELECT project_id FROM neon_platform.tenants WHERE tenant = 'up-003'");
$emu->usage($pid3, { logical_size_bytes => 1073741824, active_time_seconds => 400000 });
$job = $node->safe_psql('postgres', "SELECT neon_set_tier('up-003', 'free')");
is($node->safe_psql('postgres', "SELECT neon_wait($job)"), 'failed', 'the worker refused it');
like($node->safe_psql('postgres', "SELECT last_error FROM neon_platform.jobs WHERE id = $job"),
	qr/tenant "up-003" does not fit tier "free": logical_size_bytes \d+ > 536870912; active_time_seconds \d+ > 360000/,
	'with the list of what does not fit');
is($node->safe_psql('postgres', "SELECT state, tier, organization FROM neon_platform.tenants WHERE tenant = 'up-003'"),
	'ready|pro|paid', 'the tenant stays ready on pro');
my ($ret, $out, $err) = $node->psql('postgres', "SELECT neon_set_tier('up-003', 'free')");
isnt($ret, 0, 'now neon_set_tier() refuses it at once');
like($err, qr/does not fit tier "free".*DETAIL:  logical_size_bytes \d+ > 536870912; active_time_seconds \d+ > 360000/s,
	'from the usage the worker stored, with the same list');
$job = $node->safe_psql('postgres', "SELECT neon_set_tier('up-003', 'free', force => true)");
is($node->safe_psql('postgres', "SELECT neon_wait($job)"), 'succeeded', 'force moves it anyway');
is($node->safe_psql('postgres', "SELECT tier, organization FROM neon_platform.tenants WHERE tenant = 'up-003'"),
	'free|free', 'the tenant is on free');

unlike($node->safe_psql('postgres', 'SELECT string_agg(j::text, \'\') FROM neon_platform.jobs j')
	  . $node->safe_psql('postgres', 'SELECT string_agg(t::text, \'\') FROM neon_platform.tenants t'),
	qr/\Q$NeonEmulator::KEYS{free}\E/, 'the misplaced key is in no job or tenant row');

note 'a downgrade whose endpoint change still runs: the transfer waits for it, also once the job is claimed afresh';
$job = $node->safe_psql('postgres', "SELECT neon_set_tier('up-004', 'big')");
is($node->safe_psql('postgres', "SELECT neon_wait($job)"), 'succeeded', 'up-004 is on big (8 CU)');
$emu->config({ operation_ms => 3000 });
$job = $node->safe_psql('postgres', "SELECT neon_set_tier('up-004', 'free')");
is($node->safe_psql('postgres', "SELECT neon_wait($job, '90 s')"), 'succeeded', 'the downgrade of up-004 succeeded');
$emu->config({ operation_ms => 50 });
is($node->safe_psql('postgres',
		"SELECT count(*) FILTER (WHERE path ~ '/operations') > 1, count(*) FILTER (WHERE status = 423),
		        string_agg(status::text, ',' ORDER BY id) FILTER (WHERE path ~ '/projects/transfer')
		   FROM neon_platform.api_calls WHERE job_id = $job"),
	't|0|200', 'its operations were polled until the endpoint change ended, then the transfer went through: no 423');
is($node->safe_psql('postgres', "SELECT tier, organization FROM neon_platform.tenants WHERE tenant = 'up-004'"),
	'free|free', 'up-004 is on free');

done_testing();
