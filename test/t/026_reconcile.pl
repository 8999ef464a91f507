# 026_reconcile: every sweep (neon_reconcile() asks for one) lists every project of both
# organizations and, once the list is complete, reconciles it with the tenants:
#   - strays: a project named for a tenant that is not its project, created since the tenant
#     (a create Neon carried out after the worker gave up on it): deleted (delete_stray);
#   - unowned: a project with the name prefix and no such tenant: reported in the strays view,
#     never deleted;
#   - missing: a ready tenant whose project is gone: state missing with the reason, never
#     re-created; ready again when the project is back;
#   - drift: a quota or compute setting changed behind our back: an apply_tier job puts the
#     tier back;
#   - a sweep that cannot read every page changes nothing.
# Then billing: the paid organization's figures from the consumption API, 100 projects a
# request, paced 2 s apart, in neon_platform.billing at neon_platform.compute_unit_hour_price.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP qw(decode_json);
use Time::HiRes qw(time usleep);
use NeonEmulator;
use NeonTest;

my $CREATE      = qr{^/api/v2/projects$};
my $CONSUMPTION = qr{^/api/v2/consumption_history/v2/projects$};

my $emu  = NeonEmulator->new(name => 'emu', operation_ms => 50, rate_limit_rpm => 0, burst_rps => 0);
my $node = neon_node('primary', $emu,
	guc => { requests_per_minute => 6000, burst_per_second => 100, request_timeout => 1500, settle_margin => 500 });
wait_worker_pid($node) or die 'no worker';

# reconcile($label): neon_reconcile(), waits for the sweep and the jobs it enqueued; returns the
# sweep's result (decoded).
sub reconcile
{
	my ($label) = @_;
	my $job = $node->safe_psql('postgres', 'SELECT neon_reconcile()');
	is($node->safe_psql('postgres', "SELECT neon_wait($job)"), 'succeeded', "$label: the sweep succeeded");
	ok(wait_jobs_done($node, timeout => 60), "$label: the jobs it enqueued ended");
	my $result = $node->safe_psql('postgres', "SELECT result FROM neon_platform.jobs WHERE id = $job");
	note "$label: $result";
	return decode_json($result);
}

note 'creates that land after the worker gave up';
$emu->config({ add_faults => [ { route => 'POST /projects', kind => 'late', late_ms => 3000, count => 3 } ] });
provision($node, tenants('s', 5, tiers => ['free']));
ok(wait_jobs_done($node, timeout => 60), '5 tenants provisioned');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenants WHERE state = 'ready'"), 5, 'all ready');
my $deadline = time() + 20;
my $names;
do { usleep(200_000); $names = $emu->projects_by_name } while (time() < $deadline
	&& (grep { $_ == 2 } values %$names) < 3);
is(scalar(grep { $_ == 2 } values %$names), 3, 'the 3 late creates landed: 3 tenants have two projects at Neon');

note 'a project with the prefix that is no tenant\'s, and one without it';
my ($st, $ghost) = $emu->api('POST', '/projects', key => 'free', body => { project => { name => 'tenant-ghost' } });
is($st, 201, 'someone created tenant-ghost in the free organization');
($st) = $emu->api('POST', '/projects', key => 'free', body => { project => { name => 'billing-db' } });
is($st, 201, 'and billing-db');

my $r = reconcile('first reconciliation');
is_deeply($r->{reconciliation}, { projects => 10, strays => 3, unowned => 1, missing => 0, found => 0, drift => 0 },
	'it listed 10 projects and found 3 strays and 1 unowned project');
is($node->safe_psql('postgres',
		"SELECT finding, action, count(*) FROM neon_platform.strays GROUP BY 1, 2 ORDER BY 1"),
	"stray|deleted|3\nunowned|report|1", 'the strays view: 3 strays deleted, tenant-ghost reported');
$names = $emu->projects_by_name;
is(join(',', map { "$_=$names->{$_}" } sort keys %$names),
	'billing-db=1,tenant-ghost=1,' . join(',', map { sprintf('tenant-s-%03d=1', $_) } 1 .. 5),
	'Neon holds exactly one project per tenant; tenant-ghost and billing-db are untouched');
my %listed = map { $_->{id} => 1 } @{ $emu->projects };
is($node->safe_psql('postgres', 'SELECT count(*) FROM neon_platform.tenants WHERE state = \'ready\''), 5,
	'every tenant is still ready');
is(scalar(grep { $listed{$_} } split /\n/, $node->safe_psql('postgres', 'SELECT project_id FROM neon_platform.tenants')),
	5, 'and each tenant\'s own project is the one kept');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE kind = 'delete_stray' AND state = 'succeeded'"),
	3, '3 delete_stray jobs succeeded');

note 'a second reconciliation';
$emu->clear_requests;
$r = reconcile('second reconciliation');
is_deeply($r->{reconciliation}, { projects => 7, strays => 0, unowned => 1, missing => 0, found => 0, drift => 0 },
	'finds only tenant-ghost, again');
is($emu->count_requests('DELETE', undef), 0, 'and deletes nothing');

note 'a project deleted and a quota changed behind our back';
my %project = map { @$_ } @{ query_rows($node, 'SELECT tenant, project_id FROM neon_platform.tenants') };
($st) = $emu->api('DELETE', "/projects/$project{'s-001'}", key => 'free');
is($st, 200, 's-001\'s project deleted outside neon_platform');
($st) = $emu->api('PATCH', "/projects/$project{'s-002'}", key => 'free',
	body => { project => { settings => { quota => { active_time_seconds => 1 } } } });
is($st, 200, 's-002\'s active time quota set to 1 s outside neon_platform');
$emu->clear_requests;
$r = reconcile('third reconciliation');
is_deeply($r->{reconciliation}, { projects => 6, strays => 0, unowned => 1, missing => 1, found => 0, drift => 1 },
	'it finds s-001 missing and s-002 drifted');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.tenants WHERE tenant = 's-001'"), 'missing',
	's-001 is missing');
like($node->safe_psql('postgres', "SELECT last_error FROM neon_platform.tenants WHERE tenant = 's-001'"),
	qr/was on neither organization's project list .* it is not re-created/, 'with the reason');
is($emu->count_requests('POST', $CREATE), 0, 'and no project was created for it');
like($node->safe_psql('postgres', "SELECT detail FROM neon_platform.findings WHERE finding = 'drift'"),
	qr/^active_time_seconds 1 <> 360000; data_transfer_bytes 0 <> 5368709120; logical_size_bytes 0 <> 536870912$/,
	'the drift finding names each field, what Neon has and what the tier says (Neon replaced the whole quota object)');
my (undef, $body) = $emu->api('GET', "/projects/$project{'s-002'}", key => 'free');
is($body->{project}{settings}{quota}{active_time_seconds}, 360000, 'the apply_tier job put the quota back at Neon');
is($emu->count_requests('GET', qr{/endpoints$}), 0, 'without reading the endpoints (no compute setting drifted)');

is($node->safe_psql('postgres', "SELECT neon_provision('s-001', 'free')"),
	$node->safe_psql('postgres', "SELECT max(id) FROM neon_platform.jobs WHERE tenant = 's-001' AND kind = 'provision'"),
	'neon_provision() of the missing tenant returns its old job: nothing is re-created');
my ($ret, undef, $err) = $node->psql('postgres', "SELECT neon_connection_uri('s-001')");
like($err, qr/not ready/, 'its connection URI is refused');
my $gone = $node->safe_psql('postgres', "SELECT neon_deprovision('s-001')");
is($node->safe_psql('postgres', "SELECT neon_wait($gone)"), 'succeeded', 'neon_deprovision() of the missing tenant succeeds');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.tenants WHERE tenant = 's-001'"), 'deleted',
	'it is deleted (its project was already gone)');

note 'a sweep that cannot read every page changes nothing';
($st) = $emu->api('DELETE', "/projects/$project{'s-003'}", key => 'free');
is($st, 200, 's-003\'s project deleted outside neon_platform');
$emu->config({ add_faults => [ { route => 'GET /projects', kind => 'respond', count => 1,
	patch => { projects => { '-1' => { id => 'not an id' } } } } ] });
my $failed = $node->safe_psql('postgres', 'SELECT neon_reconcile()');
is($node->safe_psql('postgres', "SELECT neon_wait($failed)"), 'failed', 'a page with a bad id fails the sweep');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.tenants WHERE tenant = 's-003'"), 'ready',
	's-003 is still ready: the incomplete inventory changed nothing');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.reconciliations WHERE sweep_id = $failed"), 0,
	'and no reconciliation was recorded');

note 'billing: the paid organization\'s consumption';
provision($node, tenants('p', 3, tiers => ['pro']));
ok(wait_jobs_done($node, timeout => 60), '3 pro tenants provisioned');
%project = map { @$_ } @{ query_rows($node, 'SELECT tenant, project_id FROM neon_platform.tenants') };
$emu->usage($project{'p-001'}, { compute_time_seconds => 7200 });
$emu->usage($project{'p-002'}, { compute_time_seconds => 360 });
$emu->control('POST', '/projects', { org_id => $NeonEmulator::ORGS{paid}, count => 250, name_prefix => 'other-' });
$emu->clear_requests;
$r = reconcile('sweep with billing');
is($r->{consumption_pages} . ' ' . $r->{billed_tenants} . ' ' . $r->{billing}, '3 3 read',
	'3 consumption pages for 253 paid projects, 3 tenants billed');
my @pages = grep { $_->{path} =~ $CONSUMPTION } @{ $emu->requests };
is(scalar @pages, 3, '3 consumption requests (100 projects each)');
ok($pages[1]{at} - $pages[0]{at} >= 1.9 && $pages[2]{at} - $pages[1]{at} >= 1.9,
	'2 s apart (Neon allows the consumption API 30 requests a minute)');
is($pages[0]{query}{granularity} . ' ' . $pages[0]{query}{limit}, 'monthly 100', 'monthly granularity, 100 a page');
is($node->safe_psql('postgres',
		"SELECT tenant || ' ' || compute_unit_hours || ' ' || compute_cost_usd FROM neon_platform.billing ORDER BY tenant"),
	"p-001 2.0000 0.21\np-002 0.1000 0.01\np-003 0.0000 0.00",
	'billing: 2 CU-hours cost $0.21 and 0.1 CU-hour $0.01 at $0.106');
$node->safe_psql('postgres', "ALTER SYSTEM SET neon_platform.compute_unit_hour_price = 0.5");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok(poll_until($node, "SELECT compute_cost_usd FROM neon_platform.billing WHERE tenant = 'p-001'", '1.00', timeout => 10),
	'at compute_unit_hour_price = 0.5, 2 CU-hours cost $1.00');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.billing WHERE tenant LIKE 's-%'"), 0,
	'free tenants have no billing rows (Neon\'s consumption API is for paid plans)');

my @leaks = secrets_leaked($node);
is_deeply(\@leaks, [], 'no secret in the log or tables');

done_testing();
