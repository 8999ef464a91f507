# 003_faults: injected 429, 500/502/503, connection resets, hangs past request_timeout and
# spurious 423 still end with every tenant ready and exactly one project per tenant.
#
# Round 1 injects each kind of fault on POST /projects (some of them after the emulator has
# created the project, so the worker cannot know whether the create happened) and on the
# look-up GET /projects. Round 2 throttles POST /projects to 2/s (429s) on top of a random
# 20 % error rate over every fault kind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my $emu = NeonEmulator->new(name => 'emu', operation_ms => 50, seed => 3);
my $node = neon_node('primary', $emu,
	guc => { request_timeout => 2000, max_attempts => 30 });
wait_worker_pid($node) or die 'no worker';

my $POSTS = qr{^/api/v2/projects$};

sub check_all_ready
{
	my ($label, $n) = @_;
	ok(wait_jobs_done($node, timeout => 180), "$label: the queue drained") or return;
	is($node->safe_psql('postgres', "SELECT state, count(*) FROM neon_platform.jobs GROUP BY 1"),
		"succeeded|$n", "$label: all $n jobs succeeded");
	is($node->safe_psql('postgres', "SELECT state, count(*) FROM neon_platform.tenants GROUP BY 1"),
		"ready|$n", "$label: all $n tenants ready");
	my $by_name = $emu->projects_by_name;
	is(scalar keys %$by_name, $n, "$label: $n distinct project names in the emulator");
	my @dups = grep { $by_name->{$_} > 1 } sort keys %$by_name;
	is_deeply(\@dups, [], "$label: exactly one project per tenant") or explain_duplicates(@dups);
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM neon_platform.tenants WHERE project_id IS NOT NULL AND pooler_host LIKE '%-pooler%'"),
		$n, "$label: every tenant has its project and pooler host");
}

# For each duplicated project name: the emulator's projects of that name and the tenant's calls.
sub explain_duplicates
{
	my @names = @_;
	my $projects = $emu->projects;
	for my $name (@names[ 0 .. ($#names > 4 ? 4 : $#names) ])
	{
		(my $tenant = $name) =~ s/^tenant-//;
		diag "duplicate $name: emulator projects "
		  . join(', ', map { "$_->{id} created $_->{created_at}" } grep { $_->{name} eq $name } @$projects);
		diag $node->safe_psql('postgres',
			"SELECT c.id, c.called_at, c.method, c.path, c.status, round(c.latency_ms::numeric), c.error
			   FROM neon_platform.api_calls c JOIN neon_platform.jobs j ON j.id = c.job_id
			  WHERE j.tenant = '$tenant' ORDER BY c.id");
	}
	return;
}

note 'round 1: every fault kind on POST /projects and on the look-up GET /projects';
my @faults = (
	{ route => 'POST /projects', kind => '500',   probability => 0.25, count => 3 },
	{ route => 'POST /projects', kind => '502',   probability => 0.25, count => 3 },
	{ route => 'POST /projects', kind => '503',   probability => 0.25, count => 3, when => 'after' },
	{ route => 'POST /projects', kind => 'reset', probability => 0.25, count => 3, when => 'before' },
	{ route => 'POST /projects', kind => 'reset', probability => 0.25, count => 3, when => 'after' },
	{ route => 'POST /projects', kind => 'hang',  probability => 0.25, count => 2, when => 'after' },
	{ route => 'POST /projects', kind => 'hang',  probability => 0.25, count => 2, when => 'before' },
	{ route => 'POST /projects', kind => '423',   probability => 0.25, count => 3 },
	{ route => 'POST /projects', kind => 'malformed_json', probability => 0.25, count => 2 },
	{ route => 'GET /projects',  kind => '500',   probability => 0.5,  count => 2 },
	{ route => 'GET /projects',  kind => 'reset', probability => 0.5,  count => 2 });
$emu->config({ faults => \@faults });
my %jobs = provision($node, tenants('f', 50));
check_all_ready('round 1', 50);
note_calls($node);

my $cfg = $emu->config({});
my @fired = map { "$_->{route} $_->{kind}/$_->{when}: $_->{fired}" } @{ $cfg->{faults} };
note "faults fired: @fired";
my $total_fired = 0;
$total_fired += $_->{fired} for @{ $cfg->{faults} };
cmp_ok($total_fired, '>=', 15, "at least 15 faults were injected ($total_fired)");
my ($after_fired) = grep { $_->{kind} eq '503' } @{ $cfg->{faults} };
cmp_ok($after_fired->{fired}, '>=', 1, 'a create that succeeded was answered 503 at least once');

# libcurl re-sends a GET once, by itself, when a kept-alive connection turns out
# to be dead before any answer (harmless for a GET); a POST always goes on a
# fresh connection and is never re-sent, so creates match one to one.
my $log = $emu->requests;
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE method = 'POST'"),
	$emu->count_requests('POST', $POSTS, log => $log),
	'one api_calls row per POST the emulator received (no create re-sent behind our back)');
cmp_ok($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls"), '<=', scalar @$log,
	'no more api_calls rows than requests the emulator received');
for my $st (500, 502, 503, 423)
{
	my $n = $emu->count_requests(undef, undef, log => $log, status => $st);
	is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE status = $st"),
		$n, "api_calls records the $n answers with status $st");
}
my $no_answer = scalar grep { ($_->{status} // 0) == 0 && $_->{method} eq 'POST' } @$log;
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE method = 'POST' AND status IS NULL AND error IS NOT NULL AND error <> ''"),
	$no_answer, "the $no_answer resets and hangs of POSTs are recorded with no status and an error text");
cmp_ok($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE attempts > 1"),
	'>', 0, 'some jobs needed more than one attempt');
cmp_ok($node->safe_psql('postgres', "SELECT coalesce(max(latency_ms), 0) FROM neon_platform.api_calls WHERE status IS NULL"),
	'>=', 1900, 'a hang was cut off at request_timeout (2 s)');
cmp_ok($node->safe_psql('postgres', "SELECT max(latency_ms) FROM neon_platform.api_calls WHERE status IS NULL"),
	'<', 10_000, '... and not much later');

note 'round 2: POST /projects limited to 2/s by the emulator (429s) plus a 20 % random error rate';
$emu->reset;
$node->safe_psql('postgres', 'TRUNCATE neon_platform.api_calls');
$emu->config({ route_limits => { 'POST /projects' => { per_second => 2, capacity => 2 } },
		error_rate => 0.2 });
%jobs = provision($node, tenants('g', 40));
ok(wait_jobs_done($node, timeout => 180), 'round 2: the queue drained');
note_calls($node);
$emu->config({ error_rate => 0, route_limits => { 'POST /projects' => undef } });
$log = $emu->requests;
my $n429 = $emu->count_requests('POST', $POSTS, log => $log, status => 429);
cmp_ok($n429, '>', 0, "the emulator answered 429 ($n429 times)");
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE status = 429"),
	$n429, 'every 429 recorded in api_calls');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM neon_platform.jobs j JOIN neon_platform.tenants t USING (tenant) WHERE t.tenant LIKE 'g-%' AND j.state = 'succeeded' AND t.state = 'ready'"),
	40, 'round 2: all 40 jobs succeeded, tenants ready');
my $by_name = $emu->projects_by_name;
is(scalar keys %$by_name, 40, 'round 2: 40 projects (the emulator was reset before this round)');
my @dups2 = grep { $by_name->{$_} > 1 } sort keys %$by_name;
is_deeply(\@dups2, [], 'round 2: one project per tenant') or explain_duplicates(@dups2);
my $ratio = $n429 / (scalar(@$log) || 1);
note sprintf('round 2: %d requests, %d answered 429 (%.0f %%)', scalar @$log, $n429, 100 * $ratio);
cmp_ok($ratio, '<', 0.5, 'after 429s the worker slows down instead of hammering (under half the requests got 429)');

note 'round 3: a lost create, then a 502 on each look-up step (each retried step is claimed afresh)';
$emu->reset;
$emu->config({ add_faults => [
	{ route => 'POST /projects', kind => '500', when => 'after', count => 1 },
	{ route => 'GET /projects/{project_id}/endpoints', kind => '502', count => 1 },
	{ route => 'GET /projects/{project_id}/connection_uri', kind => '502', count => 1 } ] });
%jobs = provision($node, [ 'lookup', 'free' ]);
is($node->safe_psql('postgres', "SELECT neon_wait($jobs{lookup})"), 'succeeded',
	'round 3: the provisioning succeeded');
is($node->safe_psql('postgres',
		"SELECT state, host IS NOT NULL AND pooler_host LIKE '%-pooler%' AND endpoint_id IS NOT NULL FROM neon_platform.tenants WHERE tenant = 'lookup'"),
	'ready|t', 'round 3: ready with its host, pooler host and endpoint, learned before the retries');
is($node->safe_psql('postgres',
		"SELECT string_agg(coalesce(status::text, '-'), ',' ORDER BY id) FROM neon_platform.api_calls WHERE job_id = $jobs{lookup}"),
	'500,200,502,200,502,200', 'round 3: create (500), find, endpoints (502, again), connection URI (502, again)');
is(scalar(grep { $_ == 1 } values %{ $emu->projects_by_name }), 1, 'round 3: one project');

my @leaks = secrets_leaked($node);
is_deeply(\@leaks, [], 'no secret in the log or tables, even with faults');

done_testing();
