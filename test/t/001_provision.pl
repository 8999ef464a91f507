# 001_provision: 200 tenants provisioned end to end against the emulator.
#
# Story: a rolled-back neon_provision leaves no trace; calling it twice for a tenant returns
# the same job and makes one project; then 200 tenants (free and pro) become ready with one
# POST /projects each, and the audit holds one row per call and no secret anywhere.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my $N = 200;

my $emu  = NeonEmulator->new(name => 'emu', operation_ms => 100);
my $node = neon_node('primary', $emu);

note 'the worker runs as "neon_platform worker" in database postgres';
ok(wait_worker_pid($node), 'worker visible in pg_stat_activity')
  or die('no neon_platform worker: nothing else can pass');
is($node->safe_psql('postgres', "SELECT datname FROM pg_stat_activity WHERE backend_type = 'neon_platform worker'"),
	'postgres', 'worker connected to neon_platform.database_name');

note 'a rolled-back neon_provision creates nothing';
$node->safe_psql('postgres', "BEGIN; SELECT neon_provision('rolled-back', 'free'); ROLLBACK;");
sleep 2;    # give a (wrongly) woken worker time to act
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs"),    '0', 'no job row');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenants"), '0', 'no tenant row');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls"), '0', 'no api call');
is(scalar @{ $emu->requests }, 0, 'the emulator saw no request');

note 'calling neon_provision twice returns the same job';
my $first  = $node->safe_psql('postgres', "SELECT neon_provision('acme-twice', 'pro')");
my $second = $node->safe_psql('postgres', "SELECT neon_provision('acme-twice', 'pro')");
like($first, qr/^\d+$/, 'neon_provision returns a job id');
is($second, $first, 'second call returns the same job id');
my ($ret, $out, $err) = $node->psql('postgres', "SELECT neon_provision('acme-twice', 'free')");
like($err, qr/already exists with tier "pro"/, 'a different tier for an existing tenant is refused');
is($node->safe_psql('postgres', "SELECT neon_wait($first, '60 s')"), 'succeeded', 'acme-twice provisioned');
is($node->safe_psql('postgres', "SELECT neon_provision('acme-twice', 'pro')"), $first,
	'after success: same job id again');

note "provisioning @{[ $N - 1 ]} more tenants, free and pro, in 4 transactions";
my @pairs = tenants('t', $N - 1);
my %jobs;
my $chunk = int(@pairs / 4) + 1;
for (my $i = 0; $i < @pairs; $i += $chunk)
{
	my $end = $i + $chunk - 1;
	$end = $#pairs if $end > $#pairs;
	%jobs = (%jobs, provision($node, @pairs[ $i .. $end ]));
}
$jobs{'acme-twice'} = $first;
is(scalar keys %jobs, $N, "$N job ids returned");
my $t0 = time;
ok(wait_jobs_done($node, timeout => 150), 'every job finished') or die('provisioning did not finish');
note sprintf('%d tenants provisioned in %d s', $N, time - $t0);

# Take the request log before we list projects ourselves (our calls show up in it too).
my $log = $emu->requests;

is($node->safe_psql('postgres', "SELECT state, count(*) FROM neon_platform.jobs GROUP BY 1"),
	"succeeded|$N", "all $N jobs succeeded");
is($node->safe_psql('postgres', "SELECT count(DISTINCT id) FROM neon_platform.jobs"), $N, "$N job rows, one per tenant");
my $ids = join ',', values %jobs;
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE id IN ($ids) AND state = 'succeeded'"),
	$N, 'the returned job ids are the succeeded ones');
is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM neon_platform.tenants WHERE state = 'ready'
		   AND project_id IS NOT NULL AND branch_id IS NOT NULL AND endpoint_id IS NOT NULL
		   AND host IS NOT NULL AND pooler_host IS NOT NULL AND database_name IS NOT NULL AND role_name IS NOT NULL"),
	$N,
	"$N tenants ready with project, branch, endpoint, host, pooler host, database and role");
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenants WHERE pooler_host LIKE '%-pooler%' AND host NOT LIKE '%-pooler%'"),
	$N, 'pooler_host has -pooler, host has not');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenant_secrets"), $N, 'one stored password per tenant');

note 'connection URIs: pooled by default, direct with pooled => false';
is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM neon_platform.tenants t
		 WHERE split_part(split_part(neon_connection_uri(t.tenant), '\@', 2), '/', 1) = t.pooler_host
		   AND t.pooler_host LIKE '%-pooler%'"),
	$N,
	'neon_connection_uri(tenant) uses the -pooler host');
is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM neon_platform.tenants t
		 WHERE split_part(split_part(neon_connection_uri(t.tenant, pooled => false), '\@', 2), '/', 1) = t.host
		   AND t.host NOT LIKE '%-pooler%'"),
	$N,
	'neon_connection_uri(tenant, pooled => false) uses the direct host');
like($node->safe_psql('postgres', "SELECT neon_connection_uri('acme-twice')"),
	qr{^postgres(?:ql)?://[^:/@]+:[^@]+\@[^/]+-pooler[^/]*/\w+}, 'URI has user, password, pooler host and database');

note 'the emulator: exactly one POST /projects per tenant, nothing else needed';
my $posts = $emu->count_requests('POST', qr{^/api/v2/projects$}, log => $log);
is($posts, $N, "exactly $N POST /projects");
is($emu->count_requests('POST', qr{^/api/v2/projects$}, log => $log, status => 201), $N, 'all answered 201');
is(scalar @$log, $N, "no other API call than the $N creates (one request per tenant is the floor)")
  or diag explain [ map { "$_->{method} $_->{path} $_->{status}" } grep { $_->{path} ne '/api/v2/projects' } @$log[0 .. 20] ];

my $projects = $emu->projects;
is(scalar @$projects, $N, "$N projects in the emulator (listed with both organization keys)");
my %by_name;
$by_name{ $_->{name} }++ for @$projects;
is(scalar(grep { $_ != 1 } values %by_name), 0, 'no project name twice');
my %tenant_project = map { @$_ } @{ query_rows($node, 'SELECT project_name, project_id FROM neon_platform.tenants') };
is(scalar(grep { ($tenant_project{ $_->{name} } // '') eq $_->{id} } @$projects), $N,
	'every emulator project is the project_id of the tenant named after it');
my %org_count;
$org_count{ $_->{_org} }++ for @$projects;
my %tier_count = map { @$_ } @{ query_rows($node, 'SELECT organization, count(*) FROM neon_platform.tenants GROUP BY 1') };
is_deeply(\%org_count, \%tier_count, 'free tenants in the free organization, pro tenants in the paid one');

note 'api_calls: one row per call, with Neon request ids, and no secret anywhere';
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls"), scalar @$log,
	'one api_calls row per request the emulator saw');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE request_id IS NULL OR request_id = ''"),
	'0', 'request_id filled in every row');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE job_id IS NULL"), '0', 'every call belongs to a job');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE method = 'POST' AND path ~ '^/projects' AND status = 201"),
	$N, "$N successful creates recorded");
my @leaks = secrets_leaked($node);
is_deeply(\@leaks, [], 'no API key or role password in the server log, tenants, jobs or api_calls');

note 'neon_provision again after everything: still the same job, still one project';
is($node->safe_psql('postgres', "SELECT neon_provision('t-001', 'free')"), $jobs{'t-001'}, 'same job id for t-001');
sleep 1;
is($emu->count_requests('POST', qr{^/api/v2/projects$}), $N, 'no new POST /projects');

done_testing();
