# 017_set_tier: tenants move to another tier. Upgrades from the free to the paid organization
# share transfer calls (up to 400 projects each), then get the new tier's quotas with the paid
# organization's key; a move within one organization needs no transfer; an organization key
# configured as the personal key fails the transfer with a reason a person can act on and leaves
# the tenant usable in its old tier; a downgrade to the free organization is refused for now.
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
note sprintf('%d requests for %d upgrades: %.2f per tenant (%d transfers, %d project PATCHes, %d endpoint reads, %d operation reads)',
	scalar @$log, $N, $per_tenant, $transfers,
	$emu->count_requests('PATCH', qr{^/api/v2/projects/[^/]+$}, log => $log),
	$emu->count_requests('GET', qr{/endpoints$}, log => $log),
	$emu->count_requests('GET', qr{/operations}, log => $log));
cmp_ok($per_tenant, '<=', 3.01, 'at most 3 requests per upgrade (1/400 transfer, PATCH, endpoints, operations)');

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

note 'a downgrade to the free organization is refused for now';
my ($ret, $out, $err) = $node->psql('postgres', "SELECT neon_set_tier('up-002', 'free')");
isnt($ret, 0, 'neon_set_tier to free fails');
like($err, qr/from the paid to the free organization is not built yet/, 'saying so');

unlike($node->safe_psql('postgres', 'SELECT string_agg(j::text, \'\') FROM neon_platform.jobs j')
	  . $node->safe_psql('postgres', 'SELECT string_agg(t::text, \'\') FROM neon_platform.tenants t'),
	qr/\Q$NeonEmulator::KEYS{free}\E/, 'the misplaced key is in no job or tenant row');

done_testing();
