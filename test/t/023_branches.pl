# 023_branches: development branches of a free tenant, each with its own compute (the tier's
# settings) and its own connection string; a repeated neon_create_branch creates nothing; a
# create whose answer was lost is adopted, not made twice; branches from another branch and at
# a point in time; a point Neon refuses fails the job; a reset (Neon's restore from the parent);
# a delete (the branch and its compute gone, its URI refused); the tier's branch limit refused in
# SQL, Neon's own (422) failing the job; a branch deleted by the background job once it expired.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use NeonEmulator;
use NeonTest;

my $emu = NeonEmulator->new(name => 'emu', operation_ms => 300, rate_limit_rpm => 0, burst_rps => 0);
my $node = neon_node('primary', $emu,
	guc => { request_timeout => 2000, settle_margin => 500, operation_poll_interval => 200 });
wait_worker_pid($node) or die 'no worker';

provision($node, ['b-001', 'free']);
ok(wait_jobs_done($node), 'tenant b-001 provisioned (free)');
my ($project, $production, $prod_pooler) = split /\|/,
  $node->safe_psql('postgres', "SELECT project_id, branch_id, pooler_host FROM neon_platform.tenants WHERE tenant = 'b-001'");

# Runs one SQL call that enqueues a job, waits for it, and notes the requests it made
# (path templates with ids replaced); returns (job id, job state, the emulator's log).
sub run_job
{
	my ($label, $sql) = @_;
	$emu->clear_requests;
	my $job = $node->safe_psql('postgres', "SELECT $sql");
	my $state = $node->safe_psql('postgres', "SELECT neon_wait($job, '60 s')");
	my $log = $emu->requests;
	my %n;
	for (@$log)
	{
		(my $p = $_->{path}) =~ s{^/api/v2/projects/[^/]+}{/projects/{id}};
		$p =~ s{/(branches|operations|endpoints)/[^/]+}{/$1/{id}}g;
		$n{"$_->{method} $p -> " . ($_->{status} || 'no answer')}++;
	}
	note sprintf("%s: %d requests\n%s", $label, scalar @$log, join "\n", map { "  $_: $n{$_}" } sort keys %n);
	return ($job, $state, $log);
}

# The branch row of b-001 named $name: state, branch_id, endpoint_id, host, pooler_host, last_error.
sub branch_row
{
	my ($name, $tenant) = @_;
	$tenant //= 'b-001';
	return split /\|/, $node->safe_psql('postgres',
		"SELECT state, branch_id, endpoint_id, host, pooler_host, last_error FROM neon_platform.branches
		  WHERE tenant = '$tenant' AND name = '$name'"), -1;
}

# Neon's (the emulator's) view of one branch: (status, branch object).
sub neon_branch
{
	my ($id) = @_;
	my ($status, $data) = $emu->api('GET', "/projects/$project/branches/$id", key => 'free');
	return ($status, ref $data ? $data->{branch} : undef);
}

# The error of a SQL call, with its SQLSTATE (VERBOSITY verbose).
sub sql_error
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT $sql");
	return $err;
}

note 'a development branch from production';
my ($dev_job, $state, $log) = run_job('create dev', "neon_create_branch('b-001', 'dev')");
is($state, 'succeeded', 'the create_branch job succeeded');
my ($row_state, $dev_id, $dev_ep, $dev_host, $dev_pooler) = branch_row('dev');
is($row_state, 'ready', 'the branch row is ready');
like($dev_id, qr/^br-[a-z0-9-]+$/, 'with its Neon branch id');
is($emu->count_requests('POST', qr{^/api/v2/projects/[^/]+/branches$}, log => $log), 1, 'one POST .../branches');
my @waits = grep { $_->{path} =~ m{/operations} } @$log;
ok(@waits >= 1, 'its operations were waited for before the branch was called ready');
my ($endpoints_read) = grep { $_->{path} eq "/api/v2/projects/$project/branches/$dev_id/endpoints" } @$log;
cmp_ok($endpoints_read->{at}, '>=', $waits[-1]{at}, 'the compute was read once they ended');
is(scalar @$log, 2 + @waits, 'cost: the create, the reads of its operations, the read of its compute');
my (undef, $neon_dev) = neon_branch($dev_id);
is($neon_dev->{parent_id}, $production, 'at Neon its parent is the production branch');
is($neon_dev->{name}, 'dev', 'and its name is the row\'s');
my ($status, $eps) = $emu->api('GET', "/projects/$project/branches/$dev_id/endpoints", key => 'free');
my @rw = grep { $_->{type} eq 'read_write' } @{ $eps->{endpoints} };
is(scalar @rw, 1, 'it has its own read_write compute');
is($rw[0]{id}, $dev_ep, 'the one in the row');
is_deeply([ @{ $rw[0] }{qw(autoscaling_limit_min_cu autoscaling_limit_max_cu suspend_timeout_seconds)} ],
	[ 0.25, 2, 300 ], 'with the free tier\'s compute settings');
is($dev_pooler, "$dev_ep-pooler" . substr($dev_host, length $dev_ep), 'the pooled host is the -pooler form of the direct one');
my $uri = $node->safe_psql('postgres', "SELECT neon_connection_uri('b-001', branch => 'dev')");
like($uri, qr{^postgresql://[^:]+:[^@]+@\Q$dev_pooler\E/[^?]+\?sslmode=require$}, 'its URI goes to its own pooler host');
unlike($uri, qr/\Q$prod_pooler\E/, 'not to production\'s');
like($node->safe_psql('postgres', "SELECT neon_connection_uri('b-001', branch => 'dev', pooled => false)"),
	qr{@\Q$dev_host\E/}, 'pooled => false: its direct host');
like($node->safe_psql('postgres', "SELECT neon_connection_uri('b-001', branch => '$dev_id')"), qr{@\Q$dev_pooler\E/},
	'the branch may also be named by its Neon id');

note 'the same call again';
$emu->clear_requests;
is($node->safe_psql('postgres', "SELECT neon_create_branch('b-001', 'dev')"), $dev_job, 'returns the same job');
usleep(500_000);
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE kind = 'create_branch'"), 1,
	'and enqueues nothing');
is($emu->count_requests('POST', qr{/branches$}), 0, 'no POST .../branches');

note 'a create whose answer is lost';
$emu->config({ faults => [ { route => 'POST /projects/{project_id}/branches', kind => 'reset', when => 'after', count => 1 } ] });
(my $lost_job, $state, $log) = run_job('create lost (answer lost)', "neon_create_branch('b-001', 'lost')");
is($state, 'succeeded', 'the job succeeded');
is($emu->count_requests('POST', qr{/branches$}, log => $log), 1, 'one POST .../branches, not repeated');
my ($post) = grep { $_->{method} eq 'POST' } @$log;
my ($search) = grep { $_->{method} eq 'GET' && $_->{path} =~ m{/branches$} } @$log;
ok($search && $search->{query}{search} eq 'lost', 'the branch was looked up by name');
cmp_ok($search->{at} - $post->{at}, '>=', 2.5, 'once the lost request could no longer land (request_timeout + settle_margin)');
my ($s, $lost_id, $lost_ep) = branch_row('lost');
my (undef, $count) = $emu->api('GET', "/projects/$project/branches?search=lost", key => 'free');
is(scalar(grep { $_->{name} eq 'lost' } @{ $count->{branches} }), 1, 'Neon has one branch named lost');
is($count->{branches}[0]{id}, $lost_id, 'the row adopted it');
is($s, 'ready', 'ready');
($status, $eps) = $emu->api('GET', "/projects/$project/branches/$lost_id/endpoints", key => 'free');
is($eps->{endpoints}[0]{id}, $lost_ep, 'with its compute');

note 'a branch from another branch';
(undef, $state) = run_job('create feature from dev', "neon_create_branch('b-001', 'feature', parent => 'dev')");
is($state, 'succeeded', 'the job succeeded');
my (undef, $feature_id, $feature_ep) = branch_row('feature');
my (undef, $neon_feature) = neon_branch($feature_id);
is($neon_feature->{parent_id}, $dev_id, 'at Neon its parent is dev');

note 'a branch at a point in time';
my $at = $node->safe_psql('postgres',
	"SELECT to_char(ready_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM neon_platform.tenants WHERE tenant = 'b-001'");
(undef, $state) = run_job('create past', "neon_create_branch('b-001', 'past', at => '${at}Z')");
is($state, 'succeeded', 'a branch at the moment the tenant became ready');
my (undef, $past_id) = branch_row('past');
my (undef, $neon_past) = neon_branch($past_id);
like($neon_past->{parent_timestamp}, qr/^\Q$at\E/, 'at Neon its parent_timestamp is that moment');
(undef, $state) = run_job('create older (refused)', "neon_create_branch('b-001', 'older', at => now() - interval '1 minute')");
is($state, 'failed', 'one minute ago, before the project existed: Neon refuses, the job fails');
my ($older_state, undef, undef, undef, undef, $older_error) = branch_row('older');
is($older_state, 'failed', 'the row is failed');
like($older_error, qr/parent_timestamp .* before the project was created/, 'with Neon\'s reason');

note 'a reset';
(undef, $state, $log) = run_job('reset lost', "neon_reset_branch('b-001', 'lost')");
is($state, 'succeeded', 'the reset_branch job succeeded');
my @restores = grep { $_->{method} eq 'POST' && $_->{path} eq "/api/v2/projects/$project/branches/$lost_id/restore" } @$log;
is(scalar @restores, 1, 'one restore call on the branch');
my ($reset_state, $reset_id, $reset_ep) = branch_row('lost');
is_deeply([ $reset_state, $reset_id, $reset_ep ], [ 'ready', $lost_id, $lost_ep ], 'ready again, same branch and compute');
my (undef, $neon_lost) = neon_branch($lost_id);
ok($neon_lost->{last_reset_at}, 'Neon reset it');
is($neon_lost->{parent_id}, $production, 'from its parent, production');
like(sql_error("neon_reset_branch('b-001', 'dev')"), qr/2BP01: branch "dev" of tenant "b-001" has branches grown from it/,
	'a branch with a child is not reset');

note 'a delete';
(undef, $state, $log) = run_job('delete feature', "neon_delete_branch('b-001', 'feature')");
is($state, 'succeeded', 'the delete_branch job succeeded');
is($emu->count_requests('DELETE', qr{/branches/\Q$feature_id\E$}, log => $log), 1, 'one DELETE');
($status) = neon_branch($feature_id);
is($status, 404, 'Neon no longer has the branch');
($status) = $emu->api('GET', "/projects/$project/endpoints/$feature_ep", key => 'free');
is($status, 404, 'nor its compute');
is((branch_row('feature'))[0], 'deleted', 'the row is deleted');
like(sql_error("neon_connection_uri('b-001', branch => 'feature')"), qr/42704: branch "feature" does not exist for tenant "b-001"/,
	'its URI is refused');

note 'the branch limit of a tier: production and one more';
$node->safe_psql('postgres', q{INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
	VALUES ('tiny', 'free', 86400, 2, 0)});
provision($node, ['b-002', 'tiny']);
ok(wait_jobs_done($node), 'tenant b-002 provisioned (tiny)');
(undef, $state) = run_job('create one on b-002', "neon_create_branch('b-002', 'one')");
is($state, 'succeeded', 'its first branch');
like(sql_error("neon_create_branch('b-002', 'two')"), qr/54000: branch "two" would exceed the branch limit of tier "tiny" \(2 branches\)/,
	'a second is refused in SQL (program_limit_exceeded)');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.branches WHERE tenant = 'b-002'"), 1, 'no row for it');

note 'Neon\'s own branch limit';
$emu->control('POST', '/org_limit', { org_id => $NeonEmulator::ORGS{free}, name => 'branches', value => 4 });
(undef, $state) = run_job('create full (Neon refuses)', "neon_create_branch('b-001', 'full')");
is($state, 'failed', 'a fifth branch, past the organization\'s limit of 4 per project: Neon\'s 422 fails the job');
my ($full_state, undef, undef, undef, undef, $full_error) = branch_row('full');
like($full_error, qr/branch limits; delete a branch first .*HTTP 422: BRANCHES_LIMIT_EXCEEDED/, 'with the reason');
is($full_state, 'failed', 'the row is failed');
$emu->control('POST', '/org_limit', { org_id => $NeonEmulator::ORGS{free}, name => 'branches', value => 10 });

note 'a branch that expires';
(undef, $state) = run_job('create temp', "neon_create_branch('b-001', 'temp', expires_at => now() + interval '2 seconds')");
is($state, 'succeeded', 'a branch that expires in 2 seconds');
my (undef, $temp_id) = branch_row('temp');
$emu->clear_requests;
ok(poll_until($node, "SELECT state FROM neon_platform.branches WHERE tenant = 'b-001' AND name = 'temp'", 'deleted', timeout => 30),
	'the worker deleted it once it expired (it looks every 10 s)');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.jobs WHERE kind = 'expire_branch'"), 'succeeded',
	'through a background expire_branch job');
$log = $emu->requests;
note sprintf('expire temp: %d requests: %s', scalar @$log, join ', ', map { "$_->{method} $_->{status}" } @$log);
($status) = neon_branch($temp_id);
is($status, 404, 'Neon no longer has it');
is($emu->count_requests('DELETE', qr{/branches/\Q$temp_id\E$}, log => $log), 1, 'one DELETE');

note_calls($node);
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.branches WHERE tenant = 'b-001' AND state = 'ready'"), 3,
	'b-001 keeps dev, lost and past');

done_testing();
