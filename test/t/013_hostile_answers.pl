# 013_hostile_answers: a Neon that answers with well-formed JSON holding hostile values.
#
# Story: one tenant per hostile case. The emulator answers POST /projects with a project id that
# walks out of the API path (../../steal?x=1#), with a host that is a URL scheme, with a role
# password that is not UTF-8 or holds a NUL; and, once a create's answer was lost, it answers the
# look-up GET /projects with an item whose id walks out of the path. Each time the worker must
# refuse the answer at once ("refused Neon's answer to ..." naming the field), store nothing for
# the tenant (no project id, no password), leave it failed, and never send a request outside
# /api/v2/projects... (no GET /steal..., no "..").
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my $STEAL = '../../steal?x=1#';
my $emu   = NeonEmulator->new(name => 'emu', operation_ms => 50);
my $node  = neon_node('primary', $emu,
	guc => { request_timeout => 2000, settle_margin => 500, max_attempts => 10 });
wait_worker_pid($node) or die 'no worker';

# The part of the emulator's log since entry $from.
sub log_since
{
	my ($from) = @_;
	my $log = $emu->requests;
	return [ @$log[ $from .. $#$log ] ];
}

sub describe_log
{
	my ($log) = @_;
	return join ', ', map { "$_->{method} $_->{path} -> $_->{status}" } @$log;
}

# hostile_case(tenant => ..., faults => [...], field => qr/.../, label => ...):
# provisions one tenant with the faults in place and checks that the job failed with a refusal
# naming the field and that nothing was stored. Returns the part of the emulator's log it made.
sub hostile_case
{
	my (%c) = @_;
	my $t = $c{tenant};
	note "case $c{label}: tenant $t";
	$emu->config({ faults => $c{faults} });
	my $from = scalar @{ $emu->requests };
	my %jobs = provision($node, [ $t, $c{tier} // 'free' ]);
	my $job  = $jobs{$t};
	is($node->safe_psql('postgres', "SELECT neon_wait($job, '60 s')"), 'failed', "$c{label}: the job failed")
	  or diag_queue($node);
	my $log = log_since($from);
	note "$c{label}: the emulator saw " . describe_log($log);

	my $err = $node->safe_psql('postgres', "SELECT last_error FROM neon_platform.jobs WHERE id = $job");
	note "$c{label}: jobs.last_error = $err";
	like($err, qr/^refused Neon's answer to \Q$c{request}\E/, "$c{label}: reason starts with \"refused Neon's answer to $c{request}\"");
	like($err, $c{field}, "$c{label}: the reason names the field");
	unlike($err, qr/PW-MARK|pa.ss/, "$c{label}: the reason repeats no part of a password") if $c{password};
	is($node->safe_psql('postgres', "SELECT attempts FROM neon_platform.jobs WHERE id = $job"),
		$c{attempts} // 1, "$c{label}: failed at the first 2xx answer (attempt " . ($c{attempts} // 1) . "), not retried");
	is( $node->safe_psql('postgres',
			"SELECT state, project_id IS NULL, branch_id IS NULL, endpoint_id IS NULL, host IS NULL, pooler_host IS NULL,
			        role_name IS NULL, last_error LIKE '%refused Neon''s answer%'
			   FROM neon_platform.tenants WHERE tenant = '$t'"),
		'failed|t|t|t|t|t|t|t', "$c{label}: tenant failed, with no project, branch, endpoint, host or role, reason kept");
	is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenant_secrets WHERE tenant = '$t'"),
		'0', "$c{label}: no password stored");
	my ($ret, $out, $stderr) = $node->psql('postgres', "SELECT neon_connection_uri('$t')");
	like($stderr, qr/is not ready: its last job failed/, "$c{label}: neon_connection_uri refuses the tenant");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM neon_platform.api_calls WHERE job_id = $job AND status BETWEEN 200 AND 299"),
		$c{ok_calls} // 1, "$c{label}: the refused answer is audited as a 2xx call");
	return $log;
}

note 'POST /projects answers a project id that walks out of the path';
my $log = hostile_case(
	label   => 'project id',
	tenant  => 'h-projid',
	request => 'POST /projects',
	field   => qr/project\.id "\.\.\/\.\.\/steal\?x=1#" is not a Neon id/,
	faults  => [ { route => 'POST /projects', kind => 'respond', count => 1,
			patch => { project => { id => $STEAL } } } ]);
is(scalar @$log, 1, 'project id: one request (the create), nothing sent with the hostile id')
  or diag describe_log($log);

note 'POST /projects answers a host that is a URL (endpoint and connection parameters)';
$log = hostile_case(
	label   => 'host',
	tenant  => 'h-host',
	request => 'POST /projects',
	field   => qr/host "javascript:alert\(1\)\/\/" is not a host name/,
	faults  => [ { route => 'POST /projects', kind => 'respond', count => 1,
			patch => {
				endpoints       => { 0 => { host => 'javascript:alert(1)//' } },
				connection_uris => { 0 => { connection_parameters => { host => 'javascript:alert(1)//' } } } } } ]);
is(scalar @$log, 1, 'host: one request');

note 'POST /projects answers a role password that is not UTF-8 (bytes ff fe)';
$log = hostile_case(
	label    => 'password not UTF-8',
	tenant   => 'h-pw-utf8',
	request  => 'POST /projects',
	password => 1,
	field    => qr/\bpassword is not a password/,
	faults   => [ { route => 'POST /projects', kind => 'respond', count => 1,
			patch => {
				roles           => { 0 => { password => 'PW-MARK' } },
				connection_uris => { 0 => { connection_parameters => { password => 'PW-MARK' } } } },
			patch_raw => [ [ 'PW-MARK', '\xff\xfe' ] ] } ]);
is(scalar @$log, 1, 'password not UTF-8: one request');

note 'POST /projects answers a role password holding \u0000';
$log = hostile_case(
	label    => 'password with NUL',
	tenant   => 'h-pw-nul',
	request  => 'POST /projects',
	password => 1,
	field    => qr/\bpassword is not a password/,
	faults   => [ { route => 'POST /projects', kind => 'respond', count => 1,
			patch => {
				roles           => { 0 => { password => "pa\x{0}ss" } },
				connection_uris => { 0 => { connection_parameters => { password => "pa\x{0}ss" } } } } } ]);
is(scalar @$log, 1, 'password with NUL: one request');

note 'the create answer is lost (reset after the project was made); the look-up GET /projects then';
note 'lists the project under the id ../../steal?x=1#: the worker must not follow it';
my $list_tenant = 'h-list@x';    # "@" must reach Neon percent-encoded in ?search=
$log = hostile_case(
	label    => 'project list id',
	tenant   => $list_tenant,
	request  => 'GET /projects?search=',
	field    => qr/projects\[0\]\.id "\.\.\/\.\.\/steal\?x=1#" is not a Neon id/,
	ok_calls => 1,
	attempts => 2,    # the lost create, then the refused look-up
	faults   => [
		{ route => 'POST /projects', kind => 'reset', when => 'after', count => 1 },
		{ route => 'GET /projects', kind => 'respond', count => 1,
			patch => { projects => { 0 => { id => $STEAL } } } } ]);
is(describe_log($log), 'POST /api/v2/projects -> 0, GET /api/v2/projects -> 200',
	'project list id: the lost create, one look-up, and nothing else');
my ($lookup) = grep { $_->{method} eq 'GET' } @$log;
is(($lookup->{query} // {})->{search}, "tenant-$list_tenant", 'the look-up searched the exact project name');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM neon_platform.api_calls WHERE path = '/projects?search=tenant-h-list%40x&limit=400'"),
	'1', 'the "@" of the name went out percent-encoded (%40) in the query');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM neon_platform.api_calls c JOIN neon_platform.jobs j ON j.id = c.job_id
		  WHERE j.tenant = '$list_tenant' AND c.method = 'POST' AND c.status IS NULL AND c.error <> ''"),
	'1', 'the lost create is audited without a status');
my $orphans = grep { $_->{name} eq "tenant-$list_tenant" } @{ $emu->projects };
is($orphans, 1, 'the project exists at Neon (the create happened) but is not adopted under the hostile id');

note 'everything the worker sent, over all cases';
$emu->config({ faults => [] });
my $all = $emu->requests;
my @outside = grep { $_->{path} !~ m{^/api/v2/} } @$all;
is_deeply([ map { "$_->{method} $_->{path}" } @outside ], [], 'no request outside /api/v2/ in the emulator log');
my @bad = grep { $_->{path} =~ /steal|\.\./ || join(',', %{ $_->{query} // {} }) =~ /steal|\.\./ } @$all;
is_deeply([ map { "$_->{method} $_->{path}" } @bad ], [], 'no request path or query with "steal" or ".."');
my @not_projects = grep { $_->{path} !~ m{^/api/v2/projects(?:/|$)} } @$all;
is_deeply([ map { "$_->{method} $_->{path}" } @not_projects ], [], 'every request went to /api/v2/projects...');
is($emu->count_requests('GET', qr{^/api/v2/projects/[^/]+}, log => $all), 0,
	'no GET of a single project, its endpoints or connection_uri was ever made');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM neon_platform.api_calls WHERE path !~ '^/projects([/?]|\$)' OR path ~ '(steal|\\.\\.)'"),
	'0', 'api_calls: every path is under /projects, none holds "steal" or ".."');
# A request outside /api/v2 (e.g. curl normalizing /api/v2/projects/../../steal into /steal) would be
# audited in api_calls but missing from the emulator's log of /api/v2 requests.
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM neon_platform.api_calls'), '<=', scalar @$all,
	'no audited call is missing from the emulator log of /api/v2 requests');
note_calls($node);

is($node->safe_psql('postgres', "SELECT state, count(*) FROM neon_platform.jobs GROUP BY 1"),
	'failed|5', 'the five hostile jobs failed, none succeeded or is still queued');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenant_secrets"), '0', 'tenant_secrets is empty');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM neon_platform.tenants
		  WHERE concat(project_id, branch_id, endpoint_id, host, pooler_host, role_name, database_name) ~ '(javascript|steal|\\.\\.|[?#:/])'"),
	'0', 'no id, host or name column of any tenant holds a hostile value');
cmp_ok( $node->safe_psql('postgres',
		"SELECT coalesce(max(octet_length(x)), 0) FROM (SELECT last_error FROM neon_platform.jobs UNION ALL
		   SELECT last_error FROM neon_platform.tenants UNION ALL SELECT error FROM neon_platform.api_calls) AS e(x)"),
	'<=', 1000, 'every stored error text is at most 1000 bytes');
my $server_log = slurp_file($node->logfile);
unlike($server_log, qr/invalid byte sequence|unexpected NUL|null character not permitted/,
	'PostgreSQL never got the invalid UTF-8 or the NUL (no encoding error in the log)');
unlike($server_log, qr/TRAP|PANIC|server process .* was terminated/, 'no crash, no assertion failure');
my @leaks = secrets_leaked($node);
is_deeply(\@leaks, [], 'no key in the server log or tables');

note 'the worker is still healthy: a normal tenant provisions';
my %ok = provision($node, [ 'h-normal', 'pro' ]);
is($node->safe_psql('postgres', "SELECT neon_wait($ok{'h-normal'}, '60 s')"), 'succeeded', 'a normal tenant succeeds afterwards');

note 'a failed hostile tenant can be provisioned again once Neon behaves';
my $again = $node->safe_psql('postgres', "SELECT neon_provision('h-projid', 'free')");
is($node->safe_psql('postgres', "SELECT neon_wait($again, '60 s')"), 'succeeded', 'h-projid retried: succeeded');
like($node->safe_psql('postgres', "SELECT project_id FROM neon_platform.tenants WHERE tenant = 'h-projid'"),
	qr/^[a-z0-9-]{1,60}$/, 'h-projid now has a well-formed project id');

note 'only endpoints[0].host hostile: the worker takes the host from connection_uris[0].connection_parameters';
note '(Neon\'s source of truth for hosts), so the hostile value is not taken; whatever the outcome, it is not stored';
$emu->config({ faults => [ { route => 'POST /projects', kind => 'respond', count => 1,
			patch => { endpoints => { 0 => { host => 'javascript:alert(1)//' } } } } ] });
my %ep = provision($node, [ 'h-ep-host', 'free' ]);
my $ep_state = $node->safe_psql('postgres', "SELECT neon_wait($ep{'h-ep-host'}, '60 s')");
my ($ep_err, $ep_host) = @{ query_rows($node,
	"SELECT coalesce(j.last_error, ''), coalesce(t.host, '') FROM neon_platform.jobs j JOIN neon_platform.tenants t USING (tenant)
	  WHERE j.id = $ep{'h-ep-host'}")->[0] };
note "endpoint-host-only: job $ep_state, host '$ep_host', last_error '$ep_err'";
ok( ($ep_state eq 'failed' && $ep_err =~ /^refused Neon's answer to POST \/projects: .*host/ && $ep_host eq '')
	  || ($ep_state eq 'succeeded' && $ep_host =~ /^[a-z0-9-]+(\.[a-z0-9-]+)+$/),
	'endpoint-host-only: either refused naming the host, or succeeded with the well-formed host of connection_parameters');
unlike($ep_host, qr/javascript/, 'endpoint-host-only: the hostile host is not stored');

done_testing();
