# 025_usage: usage monitoring. A sweep (neon_sync_usage(), or every usage_poll_interval) lists
# every project of the free organization, then of the paid one, 400 a request, and records
# each tenant's active time and storage in neon_platform.usage; the tenants closest to a quota
# then get a detail read (GET /projects/{id}). Crossing 80 % or 95 % of a quota raises one
# alert per tenant, metric and period (the highest threshold crossed), stored in
# neon_platform.alerts and sent with NOTIFY neon_platform_alerts when the recording commits.
#
# 20 free tenants: 10 at 83 % and 5 at 97 % of the free tier's active time (360,000 s), 5 at
# 1 %. Usage grows only through the emulator's /_emulator/usage. Then: a second sync raises
# nothing; a list page with a hostile id fails the sweep and records nothing of it; a tenant
# pushed over its quota is suspended in quota_status, and its upgrade to pro
# lifts it; a sweep over 820 projects reads 3 pages of the free organization and resumes at
# its saved cursor after the worker is terminated; usage_poll_interval enqueues sweeps alone.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP qw(decode_json);
use Time::HiRes qw(time usleep);
use NeonEmulator;
use NeonTest;

my $QUOTA = 360000;
my $LIST  = qr{^/api/v2/projects$};
my $READ  = qr{^/api/v2/projects/[a-z0-9-]+$};
my $BILL  = qr{^/api/v2/consumption_history/v2/projects$};

my $emu  = NeonEmulator->new(name => 'emu', operation_ms => 50, rate_limit_rpm => 0, burst_rps => 0);
my $node = neon_node('primary', $emu, guc => { requests_per_minute => 6000, burst_per_second => 100 });
my $wpid = wait_worker_pid($node) or die 'no worker';

provision($node, tenants('u', 20, tiers => ['free']));
ok(wait_jobs_done($node, timeout => 60), '20 free tenants provisioned');
my %project = map { @$_ } @{ query_rows($node, 'SELECT tenant, project_id FROM neon_platform.tenants') };

# The tenants u-001 .. u-010 at 83 %, u-011 .. u-015 at 97 %, the others at 1 %.
sub percent_of
{
	my ($n) = @_;
	return $n <= 10 ? 83 : $n <= 15 ? 97 : 1;
}
for my $n (1 .. 20)
{
	my $t = sprintf('u-%03d', $n);
	$emu->usage($project{$t}, { active_time_seconds => $QUOTA * percent_of($n) / 100 });
}

# sync($label): neon_sync_usage(), waits for the sweep and its detail reads; returns the sweep's
# result (decoded) and what it cost: list requests, detail reads, consumption requests (from the
# emulator's log).
sub sync
{
	my ($label) = @_;
	$emu->clear_requests;
	my $job = $node->safe_psql('postgres', 'SELECT neon_sync_usage()');
	is($node->safe_psql('postgres', "SELECT neon_wait($job)"), 'succeeded', "$label: the sweep succeeded");
	ok(wait_jobs_done($node, timeout => 30), "$label: its detail reads ended");
	my $log = $emu->requests;
	my ($lists, $reads, $bills) = map { $emu->count_requests('GET', $_, log => $log) } ($LIST, $READ, $BILL);
	my $result = $node->safe_psql('postgres', "SELECT result FROM neon_platform.jobs WHERE id = $job");
	note sprintf('%s: %d requests: %d list pages, %d detail reads, %d consumption pages (result %s)', $label,
		$lists + $reads + $bills, $lists, $reads, $bills, $result);
	return (decode_json($result), $lists, $reads, $bills);
}

# notifications($psql): the payloads of the alerts NOTIFY delivered to the listening session so far.
sub notifications
{
	my ($psql) = @_;
	my $out = $psql->query_safe('SELECT 1');
	return [ map { decode_json($_) }
		  $out =~ /^Asynchronous notification "neon_platform_alerts" with payload "(.*)" received from server process with PID \d+\.$/mg ];
}

is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE kind = 'usage_sweep'"), 0,
	'with usage_poll_interval = 0 no sweep was enqueued while the tenants were provisioned');

note 'first sync';
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN neon_platform_alerts');
my ($result, $lists, $reads, $bills) = sync('first sync');
is_deeply({ map { $_ => $result->{$_} } qw(pages projects matched_tenants detail_reads consumption_pages) },
	{ pages => 2, projects => 20, matched_tenants => 20, detail_reads => 15, consumption_pages => 1 },
	'the result: 2 pages, 20 projects, 20 tenants matched, 15 detail reads, 1 consumption page');
is($lists, 2, 'cost: 1 list request per organization for 20 projects');
is($bills, 1, 'plus 1 consumption request for the paid organization (empty)');
is($reads, 15, 'plus 1 detail read for each of the 15 tenants at 70 % or more');
is($lists + $reads + $bills, 18, 'a sweep of 20 tenants costs 18 requests');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE path LIKE '/projects?limit=400%'"), 2,
	'api_calls records both list pages, with limit=400');

is($node->safe_psql('postgres', 'SELECT threshold, count(*) FROM neon_platform.alerts GROUP BY 1 ORDER BY 1'),
	"80|10\n95|5", '10 alerts at 80 % and 5 at 95 %');
is($node->safe_psql('postgres',
		"SELECT string_agg(tenant || ':' || threshold || ':' || percent_used, ',' ORDER BY tenant) FROM neon_platform.alerts
		  WHERE metric = 'active_time_seconds'"),
	join(',', (map { sprintf('u-%03d:80:83.0', $_) } 1 .. 10), (map { sprintf('u-%03d:95:97.0', $_) } 11 .. 15)),
	'each for the right tenant, on active_time_seconds, with its percentage');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM neon_platform.alerts
		  WHERE period_start = date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"),
	15, 'in the current period');

my $sent = notifications($listener);
is(scalar @$sent, 15, '15 notifications on neon_platform_alerts');
is(join(',', map { "$_->{tenant}:$_->{threshold}" } sort { $a->{tenant} cmp $b->{tenant} } @$sent),
	join(',', (map { sprintf('u-%03d:80', $_) } 1 .. 10), (map { sprintf('u-%03d:95', $_) } 11 .. 15)),
	'one per alert, naming the tenant and the threshold');
my ($first) = grep { $_->{tenant} eq 'u-011' } @$sent;
is_deeply([ sort keys %$first ], [qw(alert_id metric percent_used period_end period_start tenant threshold)],
	'the payload: alert_id, tenant, metric, threshold, percent_used, period_start, period_end');
ok($first->{metric} eq 'active_time_seconds' && $first->{percent_used} == 97, 'u-011: active_time_seconds at 97 %');

is($node->safe_psql('postgres',
		"SELECT string_agg(DISTINCT percent_used::text, ',') FROM neon_platform.quota_status
		  WHERE metric = 'active_time_seconds' AND tenant IN ('u-001', 'u-010')"), '83.0',
	'quota_status: 83.0 % for the tenants at 83 %');
is($node->safe_psql('postgres',
		"SELECT used || '/' || quota || ' ' || percent_used || ' ' || suspended FROM neon_platform.quota_status
		  WHERE metric = 'active_time_seconds' AND tenant = 'u-015'"), "349200/$QUOTA 97.0 false",
	'quota_status: 349200 of 360000 s, 97.0 %, not suspended');
is($node->safe_psql('postgres',
		"SELECT percent_used FROM neon_platform.quota_status WHERE metric = 'active_time_seconds' AND tenant = 'u-020'"),
	'1.0', 'quota_status: 1.0 % for a tenant at 1 %');
is($node->safe_psql('postgres', 'SELECT count(*) FROM neon_platform.quota_status WHERE suspended'), 0,
	'nobody is suspended');
is($node->safe_psql('postgres',
		"SELECT count(*) FILTER (WHERE detail_read_at IS NOT NULL AND compute_time_seconds IS NOT NULL),
		        count(*) FILTER (WHERE detail_read_at IS NULL AND compute_time_seconds IS NULL)
		   FROM neon_platform.usage"), '15|5',
	'neon_platform.usage: the 15 tenants read in detail have every period counter, the 5 others the list\'s figures');

note 'second sync';
($result, $lists, $reads, $bills) = sync('second sync');
is($node->safe_psql('postgres', 'SELECT count(*) FROM neon_platform.alerts'), 15, 'a second sync adds no alert');
is(scalar @{ notifications($listener) }, 0, 'and sends no notification');
is($lists + $reads + $bills, 18, 'it costs the same 18 requests');

note 'a hostile project list';
my $read_at = $node->safe_psql('postgres', 'SELECT max(read_at) FROM neon_platform.usage');
$emu->config({ add_faults => [ { route => 'GET /projects', kind => 'respond', count => 1,
	patch => { projects => { '-1' => { id => '../x?cursor=' } } } } ] });
my $hostile = $node->safe_psql('postgres', 'SELECT neon_sync_usage()');
is($node->safe_psql('postgres', "SELECT neon_wait($hostile)"), 'failed', 'a page with an id that is no Neon id fails the sweep');
like($node->safe_psql('postgres', "SELECT last_error FROM neon_platform.jobs WHERE id = $hostile"),
	qr{refused Neon's answer to GET /projects\?limit=400: projects\[19\]\.id}, 'saying which value it refused');
is($node->safe_psql('postgres', 'SELECT max(read_at) FROM neon_platform.usage'), $read_at, 'and nothing of the page is recorded');

note 'u-011 goes over its quota';
my $over = $emu->usage($project{'u-011'}, { active_time_seconds => 20000 });
is_deeply($over->{suspended}, [ $project{'u-011'} ], 'Neon (the emulator) suspends u-011\'s project');
sync('sync after the overrun');
is($node->safe_psql('postgres',
		"SELECT percent_used || ' ' || suspended FROM neon_platform.quota_status
		  WHERE metric = 'active_time_seconds' AND tenant = 'u-011'"), '102.6 true',
	'quota_status shows u-011 at 102.6 %, suspended');
is($node->safe_psql('postgres', "SELECT suspended_by FROM neon_platform.tenants WHERE tenant = 'u-011'"),
	'active_time_seconds', 'tenants.suspended_by names the quota it used up');
is($node->safe_psql('postgres', 'SELECT count(*) FROM neon_platform.alerts'), 15,
	'no new alert: 95 is still the highest threshold crossed');
is(scalar @{ notifications($listener) }, 0, 'no notification');

my $upgrade = $node->safe_psql('postgres', "SELECT neon_set_tier('u-011', 'pro')");
is($node->safe_psql('postgres', "SELECT neon_wait($upgrade)"), 'succeeded', 'u-011 upgraded to pro');
my (undef, $body) = $emu->api('GET', "/projects/$project{'u-011'}", key => 'paid');
is($body->{project}{settings}{quota}{active_time_seconds}, 2700000, 'its project has pro\'s larger quota at Neon');
($result) = sync('sync after the upgrade');
is($result->{projects} . ' ' . $result->{matched_tenants}, '20 20', 'the sweep found u-011 in the paid organization');
is($node->safe_psql('postgres',
		"SELECT used || '/' || quota || ' ' || percent_used || ' ' || suspended FROM neon_platform.quota_status
		  WHERE metric = 'active_time_seconds' AND tenant = 'u-011'"), '369200/2700000 13.7 false',
	'the upgrade lifts the suspension: 13.7 % of pro\'s quota, not suspended');
is($node->safe_psql('postgres', "SELECT suspended_by IS NULL FROM neon_platform.tenants WHERE tenant = 'u-011'"), 't',
	'and in tenants');
is($node->safe_psql('postgres', 'SELECT count(*) FROM neon_platform.alerts'), 15, 'still 15 alerts');
$listener->quit;

note 'a sweep of 820 projects, and a worker terminated in the middle of it';
$emu->control('POST', '/projects', { org_id => $NeonEmulator::ORGS{free}, count => 800, name_prefix => 'other-' });
$emu->config({ latency_ms => 1000 });
$emu->clear_requests;
my $job = $node->safe_psql('postgres', 'SELECT neon_sync_usage()');
is($node->safe_psql('postgres', 'SELECT neon_sync_usage()'), $job, 'neon_sync_usage() returns the sweep already queued');
ok(poll_until($node, "SELECT progress->>'pages' FROM neon_platform.jobs WHERE id = $job", '1', timeout => 20),
	'the first page is recorded');
my ($saved_org, $cursor, $saved_projects) = @{ query_rows($node,
	"SELECT progress->>'organization', progress->>'cursor', progress->>'projects' FROM neon_platform.jobs WHERE id = $job")->[0] };
is("$saved_org $saved_projects", 'free 400', 'jobs.progress: the free organization, 400 projects seen');
my $page1 = $emu->requests->[0];
is($page1->{query}{cursor}, undef, 'the first page was asked for without a cursor');
my $t_kill = time();
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($wpid)"), 't', 'the worker is terminated while the second page is in flight');
$emu->config({ latency_ms => 0 });
$wpid = wait_worker_pid($node, not => $wpid, timeout => 30) or die 'no new worker';
is($node->safe_psql('postgres', "SELECT neon_wait($job)"), 'succeeded', 'the new worker finished the sweep');
ok(wait_jobs_done($node, timeout => 30), 'and its detail reads');
my @after = grep { $_->{path} =~ $LIST && $_->{at} > $t_kill } @{ $emu->requests };
is($after[0]{query}{cursor}, $cursor, 'the new worker resumed at the saved cursor');
is(scalar(grep { !defined $_->{query}{cursor} } @after), 1,
	'and read no first page again but the paid organization\'s');
is_deeply(decode_json($node->safe_psql('postgres',
			"SELECT jsonb_build_object('pages', result->'pages', 'projects', result->'projects',
			                           'matched_tenants', result->'matched_tenants')
			   FROM neon_platform.jobs WHERE id = $job")),
	{ pages => 4, projects => 820, matched_tenants => 20 },
	'the result: 4 pages (3 of the free organization, 1 of the paid one), 820 projects, 20 tenants');
note 'list requests after the restart (cursor): ' . join(', ', map { $_->{query}{cursor} // 'none' } @after);

note 'usage_poll_interval schedules sweeps by itself';
my $sweeps = $node->safe_psql('postgres', "SELECT max(id) FROM neon_platform.jobs WHERE kind = 'usage_sweep'");
$node->safe_psql('postgres', "ALTER SYSTEM SET neon_platform.usage_poll_interval = '2s'");
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok(poll_until($node,
		"SELECT count(*) > 0 FROM neon_platform.jobs WHERE kind = 'usage_sweep' AND id > $sweeps AND state = 'succeeded'",
		't', timeout => 20),
	'after usage_poll_interval = 2s, the worker enqueued a sweep by itself, which succeeded');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET neon_platform.usage_poll_interval');
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');

my @leaks = secrets_leaked($node);
is_deeply(\@leaks, [], 'no secret in the log or tables');

done_testing();
