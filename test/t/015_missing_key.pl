# 015_missing_key: a missing or refused API key makes jobs wait for the configuration, not fail.
#
# Story: the node has no paid_org_api_key. Of 3 free and 3 pro tenants, the free ones become
# ready; the pro jobs go back to the queue with run_after = infinity, "waiting for the
# configuration: neon_platform.paid_org_api_key is not set", attempts 0, their tenants still
# provisioning, and nothing is sent for them. ALTER SYSTEM SET the key + pg_reload_conf(): the pro
# jobs run and succeed. Then Neon refusing a key (401): once through an echoing proxy (fault
# echo_auth 401), once because the configured key is wrong (ALTER SYSTEM): the job waits without
# spending attempts, and after a reload (with the right key) it succeeds. No job ever fails.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use NeonEmulator;
use NeonTest;

my $POSTS = qr{^/api/v2/projects$};
my $emu   = NeonEmulator->new(name => 'emu', operation_ms => 50);
my $node  = neon_node('primary', $emu, guc => { paid_org_api_key => '', request_timeout => 2000, settle_margin => 500 });
wait_worker_pid($node) or die 'no worker';

# ALTER SYSTEM SET name = value, pg_reload_conf(), and wait until the postmaster has logged the
# change and the worker has had time to take the SIGHUP.
sub alter_and_reload
{
	my ($name, $value) = @_;
	my $pos = -s $node->logfile;
	$node->safe_psql('postgres', "ALTER SYSTEM SET neon_platform.$name = '$value'");
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	my $seen = 0;
	for (1 .. 100)
	{
		if ($node->log_contains(qr/parameter "neon_platform\.$name" changed to/, $pos)) { $seen = 1; last; }
		usleep(100_000);
	}
	ok($seen, "reload applied neon_platform.$name");
	usleep(500_000);
	return;
}

sub job_rows
{
	my ($where) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(concat_ws('|', tenant, state, run_after = 'infinity', attempts), ',' ORDER BY tenant)
		   FROM neon_platform.jobs WHERE $where");
}

note 'no paid_org_api_key: 3 free and 3 pro tenants';
my %jobs = provision($node, tenants('m', 6));    # m-001 free, m-002 pro, ...
my @free = grep { /-00[135]$/ } sort keys %jobs;
my @pro  = grep { /-00[246]$/ } sort keys %jobs;
my $pro_in  = join ',', map { "'$_'" } @pro;
my $free_in = join ',', map { "'$_'" } @free;

ok( poll_until($node, "SELECT count(*) FROM neon_platform.tenants WHERE tenant IN ($free_in) AND state = 'ready'", '3',
		timeout => 60),
	'the 3 free tenants become ready');
ok( poll_until($node, "SELECT count(*) FROM neon_platform.jobs WHERE tenant IN ($pro_in) AND state = 'queued' AND run_after = 'infinity'",
		'3', timeout => 30),
	'the 3 pro jobs are back in the queue with run_after = infinity')
  or diag_queue($node);
note "pro jobs: " . job_rows("tenant IN ($pro_in)");
is( $node->safe_psql('postgres',
		"SELECT DISTINCT last_error FROM neon_platform.jobs WHERE tenant IN ($pro_in)"),
	'waiting for the configuration: neon_platform.paid_org_api_key is not set',
	'their last_error says which setting is missing');
is($node->safe_psql('postgres', "SELECT sum(attempts) FROM neon_platform.jobs WHERE tenant IN ($pro_in)"), '0',
	'attempts are not counted');
is($node->safe_psql('postgres', "SELECT string_agg(DISTINCT state, ',') FROM neon_platform.tenants WHERE tenant IN ($pro_in)"),
	'provisioning', 'the pro tenants are still provisioning, not failed');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls c JOIN neon_platform.jobs j ON j.id = c.job_id WHERE j.tenant IN ($pro_in)"),
	'0', 'no call was made for them');

note 'a few seconds later: they still wait, nothing is sent, nothing retried';
sleep 3;
is(job_rows("tenant IN ($pro_in)"), join(',', map { "$_|queued|t|0" } @pro), 'the 3 pro jobs still wait, attempts 0');
my $log = $emu->requests;
is($emu->count_requests('POST', $POSTS, log => $log), 3, 'the emulator got only the 3 free creates');
is($emu->count_requests(undef, undef, log => $log, status => 401), 0, 'no request went out with an empty key (no 401)');
is(scalar @{ $emu->projects(org => 'paid') }, 0, 'no project in the paid organization');

note 'ALTER SYSTEM SET neon_platform.paid_org_api_key + pg_reload_conf(): the pro jobs run';
note '(PostgreSQL logs the new value on reload: the key file avoids that, see 014_secrets)';
alter_and_reload('paid_org_api_key', $NeonEmulator::KEYS{paid});
ok(wait_jobs_done($node, timeout => 60), 'the queue drained');
is(job_rows("tenant IN ($pro_in)"), join(',', map { "$_|succeeded|f|1" } @pro), 'the 3 pro jobs succeeded, one attempt each');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenants WHERE state = 'ready'"), '6', 'all 6 tenants ready');
is(scalar @{ $emu->projects(org => 'paid') }, 3, '3 projects in the paid organization');
is($emu->count_requests('POST', $POSTS), 6, 'exactly 6 creates in all');

note 'Neon answers 401 once (a proxy echoing the key): the job waits for the configuration';
$emu->config({ faults => [ { route => 'POST /projects', kind => 'echo_auth', status => 401, when => 'before', count => 1 } ] });
my %j = provision($node, [ 'm-401', 'free' ]);
ok(poll_until($node, "SELECT state, run_after = 'infinity', attempts FROM neon_platform.jobs WHERE id = $j{'m-401'}", 'queued|t|0',
		timeout => 30),
	'm-401: queued, run_after = infinity, attempts 0');
my $e401 = $node->safe_psql('postgres', "SELECT last_error FROM neon_platform.jobs WHERE id = $j{'m-401'}");
note "m-401 last_error: $e401";
like($e401, qr/^waiting for the configuration: .*401/, 'm-401: waiting for the configuration, with the 401');
unlike($e401, qr/emulator-.*-key/, 'm-401: the echoed key is not in last_error');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.tenants WHERE tenant = 'm-401'"), 'provisioning',
	'm-401: tenant still provisioning');
sleep 2;
is($emu->count_requests('POST', $POSTS), 7, 'm-401: one create sent, not repeated while waiting');
note 'a reload (nothing changed) makes it due again; the proxy behaves now';
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
is($node->safe_psql('postgres', "SELECT neon_wait($j{'m-401'}, '60 s')"), 'succeeded', 'm-401 succeeded after the reload');
is($node->safe_psql('postgres', "SELECT attempts FROM neon_platform.jobs WHERE id = $j{'m-401'}"), '1', 'm-401: one attempt counted');
$emu->config({ faults => [] });

note 'a wrong free_org_api_key (ALTER SYSTEM): Neon answers 401, the job waits; the right key + reload: it succeeds';
my $WRONG = 'wrong-free-org-key-0001';
alter_and_reload('free_org_api_key', $WRONG);
my $posts_before = $emu->count_requests('POST', $POSTS);
%j = provision($node, [ 'm-wrong', 'free' ]);
ok(poll_until($node, "SELECT state, run_after = 'infinity', attempts FROM neon_platform.jobs WHERE id = $j{'m-wrong'}", 'queued|t|0',
		timeout => 30),
	'm-wrong: queued, run_after = infinity, attempts 0');
my $ewrong = $node->safe_psql('postgres', "SELECT last_error FROM neon_platform.jobs WHERE id = $j{'m-wrong'}");
note "m-wrong last_error: $ewrong";
like($ewrong, qr/^waiting for the configuration: .*401/, 'm-wrong: waiting for the configuration, with the 401');
unlike($ewrong, qr/\Q$WRONG\E/, 'm-wrong: the configured (wrong) key is not in last_error');
sleep 2;
is($emu->count_requests('POST', $POSTS), $posts_before + 1, 'm-wrong: one create tried, answered 401, not repeated');
is($emu->count_requests('POST', $POSTS, status => 401), 2, 'the emulator answered 401 twice in all (m-401, m-wrong)');
alter_and_reload('free_org_api_key', $NeonEmulator::KEYS{free});
is($node->safe_psql('postgres', "SELECT neon_wait($j{'m-wrong'}, '60 s')"), 'succeeded', 'm-wrong succeeded with the right key');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.tenants WHERE tenant = 'm-wrong'"), 'ready', 'm-wrong ready');

note 'in the end: no job failed, every tenant ready, no key stored in the tables';
is($node->safe_psql('postgres', "SELECT state, count(*) FROM neon_platform.jobs GROUP BY 1"), 'succeeded|8', 'all 8 jobs succeeded, none failed');
is($node->safe_psql('postgres', "SELECT state, count(*) FROM neon_platform.tenants GROUP BY 1"), 'ready|8', 'all 8 tenants ready');
is( $node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE status = 401"),
	'2', 'api_calls records the two 401s');
my $tables = join "\n", map { $node->safe_psql('postgres', "SELECT t::text FROM neon_platform.$_ t") } qw(jobs tenants api_calls);
is(join(',', grep { index($tables, $_) >= 0 } (sort(values %NeonEmulator::KEYS), $WRONG)), '',
	'no key (right or wrong) in jobs, tenants or api_calls');
note_calls($node);

done_testing();
