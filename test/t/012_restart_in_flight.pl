# 012_restart_in_flight: a create whose answer is lost never gives a tenant two projects.
#
# A mutation (POST /projects) is recorded as sent (jobs.mutation_sent_at, committed before the
# request leaves). When its answer is lost, the job looks the project up by name (step
# find_existing), but only once the create can no longer land: request_timeout +
# settle_margin after it was sent. A worker restarted while creates are in flight resumes those
# jobs at find_existing with run_after = mutation_sent_at + request_timeout + settle_margin.
#
# Part (a): emulator latency 3 s (a create lands 3 s after it arrives), request_timeout 2 s,
# settle_margin 3 s. The worker is terminated 1 s after sending 5 creates; the creates land 2 s
# later at the emulator, after the new worker has started. A worker that looked up at once would
# find nothing and create again; the right one waits until sent + 5 s, finds the projects, and
# creates nothing.
#
# Part (b): the emulator performs the create and answers with bytes that are not HTTP (fault
# garbage, when after). That is an unknown outcome: the worker looks the project up after
# request_timeout + settle_margin (2 + 1 s) instead of creating it again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use NeonEmulator;
use NeonTest;

my $emu  = NeonEmulator->new(name => 'emu', latency_ms => 3000, operation_ms => 50);
my $node = neon_node('primary', $emu, guc => { request_timeout => 2000, settle_margin => 3000 });
my $wpid = wait_worker_pid($node) or die 'no worker';

my $POSTS = qr{^/api/v2/projects$};
my $LIST  = qr{^/api/v2/projects$};

# check_tenants($label, \%jobs): every job succeeded, every tenant ready with its password,
# exactly one project per tenant.
sub check_tenants
{
	my ($label, $jobs) = @_;
	my $n     = scalar keys %$jobs;
	my $ids   = join ',', values %$jobs;
	my $names = join ',', map { "'$_'" } keys %$jobs;
	is($node->safe_psql('postgres', "SELECT state || ':' || count(*) FROM neon_platform.jobs WHERE id IN ($ids) GROUP BY state"),
		"succeeded:$n", "$label: all $n jobs succeeded");
	is($node->safe_psql('postgres', "SELECT state || ':' || count(*) FROM neon_platform.tenants WHERE tenant IN ($names) GROUP BY state"),
		"ready:$n", "$label: all $n tenants ready");
	is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenant_secrets WHERE tenant IN ($names) AND length(role_password) > 0"),
		$n, "$label: a password for each tenant");
	my $by_name = $emu->projects_by_name;
	my %count = map { ($_ => $by_name->{"tenant-$_"} // 0) } keys %$jobs;
	is_deeply(\%count, { map { ($_ => 1) } keys %$jobs }, "$label: exactly one project per tenant in the emulator");
	my %project = map { @$_ } @{ query_rows($node, "SELECT project_name, project_id FROM neon_platform.tenants WHERE tenant IN ($names)") };
	my %emu_id  = map { ($_->{name} => $_->{id}) } @{ $emu->projects };
	is(scalar(grep { ($emu_id{$_} // '') eq $project{$_} } keys %project), $n,
		"$label: each tenant records the project the emulator has under its name");
}

# first_lookups(\@names, $log): name => arrival time of the first GET /projects?search=name.
sub first_lookups
{
	my ($names, $log) = @_;
	my %first;
	for my $r (@$log)
	{
		next unless $r->{method} eq 'GET' && $r->{path} =~ $LIST && defined $r->{query}{search};
		my $name = $r->{query}{search};
		$first{$name} = $r->{at} if !defined $first{$name} || $r->{at} < $first{$name};
	}
	return { map { ($_ => $first{$_}) } @$names };
}

###########################################################################
note 'part (a): worker terminated 1 s after sending 5 creates that land 3 s after they arrive';

my %jobs = provision($node, tenants('rst', 5));
is($emu->wait_requests('POST', $POSTS, 5, timeout => 30), 5, 'the 5 creates reached the emulator');
my $log0 = $emu->requests;
my @post_at = sort { $a <=> $b } map { $_->{at} } grep { $_->{method} eq 'POST' && $_->{path} =~ $POSTS } @$log0;
my %sent_at = map { @$_ } @{ query_rows($node,
	"SELECT tenant, extract(epoch FROM mutation_sent_at)::float8 FROM neon_platform.jobs
	  WHERE state = 'running' AND mutation_sent_at IS NOT NULL") };
is(scalar keys %sent_at, 5, 'while the creates are in flight, the 5 running jobs have mutation_sent_at set');
my @early = grep { $sent_at{$_} > $post_at[-1] + 0.001 } keys %sent_at;
is_deeply(\@early, [], 'each mutation_sent_at was recorded before the request reached the emulator');
note sprintf('creates arrived over %.3f s; mutation_sent_at %.3f s to %.3f s before the last arrival',
	$post_at[-1] - $post_at[0],
	$post_at[-1] - (sort { $b <=> $a } values %sent_at)[0], $post_at[-1] - (sort { $a <=> $b } values %sent_at)[0]);

usleep(int(($post_at[-1] + 1.0 - time()) * 1e6)) if $post_at[-1] + 1.0 > time();
my $logpos = -s $node->logfile;
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($wpid)"), 't',
	sprintf('pg_terminate_backend(worker %d), %.2f s after the last create arrived', $wpid, time() - $post_at[-1]));
$emu->config({ latency_ms => 0 });
note 'emulator latency set to 0 for new requests; the 5 creates already waiting still land 3 s after arrival';
my $wpid2 = wait_worker_pid($node, not => $wpid, timeout => 30);
ok($wpid2, 'a new worker started (pid ' . ($wpid2 // 'none') . ')');
my $t_restart = time();
ok(poll_until($node,
		"SELECT count(*) FROM neon_platform.jobs WHERE state = 'queued' AND step = 'find_existing' AND mutation_sent_at IS NULL",
		'5', timeout => 10),
	'the new worker put the 5 jobs back in the queue at step find_existing');
my %run_after = map { @$_ } @{ query_rows($node,
	"SELECT tenant, extract(epoch FROM run_after)::float8 FROM neon_platform.jobs WHERE state = 'queued' AND step = 'find_existing'") };
my @off = grep { abs($run_after{$_} - ($sent_at{$_} + 5.0)) > 0.01 } keys %sent_at;
is_deeply(\@off, [], 'each run_after is mutation_sent_at + request_timeout + settle_margin (5 s)')
  or diag join "\n", map { "$_: sent $sent_at{$_} run_after " . ($run_after{$_} // 'none') } sort keys %sent_at;
note sprintf('the new worker took the jobs back %.2f s after the last create arrived', $t_restart - $post_at[-1]);
like(slurp_file($node->logfile, $logpos), qr/took back 5 job\(s\) left running by a previous worker/,
	'server log: the new worker took back 5 jobs');

# Before the jobs are due (sent + 5 s), the creates have landed (arrival + 3 s).
my $check_at = $post_at[-1] + 4.0;
usleep(int(($check_at - time()) * 1e6)) if $check_at > time();
my $due = (sort { $a <=> $b } values %run_after)[0];
my $landed = $emu->projects_by_name;
if (time() < $due - 0.2)
{
	is(scalar(grep { $landed->{"tenant-$_"} } keys %jobs), 5,
		sprintf('%.1f s after arrival, before the jobs were due, the 5 creates had landed at the emulator', time() - $post_at[-1]));
}
else
{
	fail('could not look at the emulator before the jobs were due (the test machine is too slow)');
}

ok(wait_jobs_done($node, timeout => 60), 'part (a): the queue drained');
check_tenants('part (a)', \%jobs);
my $log = $emu->requests;
is($emu->count_requests('POST', $POSTS, log => $log), 5, 'part (a): the emulator received exactly 5 POST /projects (no create sent again)');
is(scalar @{ $emu->projects }, 5, 'part (a): exactly 5 projects in the emulator');
my $first = first_lookups([ map { "tenant-$_" } keys %jobs ], $log);
my (@gaps_post, @gaps_sent);
for my $t (sort keys %jobs)
{
	my $at = $first->{"tenant-$t"};
	push @gaps_post, defined $at ? $at - $post_at[-1] : -1;
	push @gaps_sent, defined $at ? $at - $sent_at{$t} : -1;
}
note 'first look-up of each tenant after the last POST arrived (s): ' . join(' ', map { sprintf('%.3f', $_) } @gaps_post);
note 'first look-up of each tenant after its mutation_sent_at (s):   ' . join(' ', map { sprintf('%.3f', $_) } @gaps_sent);
is(scalar(grep { $_ >= 0 } @gaps_post), 5, 'part (a): each tenant was looked up by name (GET /projects?search=)');
cmp_ok((sort { $a <=> $b } @gaps_sent)[0], '>=', 5.0,
	'part (a): no look-up before its mutation_sent_at + request_timeout + settle_margin (5 s)');
cmp_ok((sort { $a <=> $b } @gaps_post)[0], '>=', 4.9,
	'part (a): no look-up earlier than 5 s (minus 0.1 s) after the POSTs arrived at the emulator');
cmp_ok((sort { $b <=> $a } @gaps_post)[0], '<', 8.0, 'part (a): ... and not much later (under 8 s)');
note_calls($node);

###########################################################################
note 'part (b): the create is performed but answered with bytes that are not HTTP (fault garbage, when after)';
$node->append_conf('postgresql.conf', "neon_platform.settle_margin = 1000\n");
$node->reload;
usleep(500_000);
$emu->clear_requests;
$node->safe_psql('postgres', 'TRUNCATE neon_platform.api_calls');
$emu->config({ latency_ms => 0,
		faults => [ { route => 'POST /projects', kind => 'garbage', when => 'after', count => 3 } ] });
my %gjobs = provision($node, tenants('gb', 3));
ok(wait_jobs_done($node, timeout => 60), 'part (b): the queue drained');
check_tenants('part (b)', \%gjobs);
my $cfg = $emu->config({});
is($cfg->{faults}[0]{fired}, 3, 'part (b): the garbage fault fired 3 times');
$log = $emu->requests;
my @posts = grep { $_->{method} eq 'POST' && $_->{path} =~ $POSTS } @$log;
is(scalar @posts, 3, 'part (b): exactly 3 POST /projects (the worker looked the projects up, never created again)');
is(scalar(grep { ($_->{fault}{kind} // '') eq 'garbage' && ($_->{fault}{dispatch_status} // 0) == 201 } @posts), 3,
	'part (b): each of them was performed (201 inside the emulator) and answered with garbage');
my $gids = join ',', values %gjobs;
is($node->safe_psql('postgres',
		"SELECT count(*) FROM neon_platform.api_calls WHERE method = 'POST' AND job_id IN ($gids) AND status IS NULL AND coalesce(error, '') <> ''"),
	'3', 'part (b): the 3 POSTs are in api_calls with no status and an error');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE method = 'POST'"),
	'3', 'part (b): ... and no other POST');
note 'part (b): errors recorded for the POSTs: '
  . $node->safe_psql('postgres', "SELECT string_agg(DISTINCT error, ' / ') FROM neon_platform.api_calls WHERE method = 'POST'");
my @post_at_b = sort { $a <=> $b } map { $_->{at} } @posts;
$first = first_lookups([ map { "tenant-$_" } keys %gjobs ], $log);
my @gaps_b = map { defined $first->{"tenant-$_"} ? $first->{"tenant-$_"} - $post_at_b[-1] : -1 } sort keys %gjobs;
note 'part (b): first look-up of each tenant after the last POST arrived (s): ' . join(' ', map { sprintf('%.3f', $_) } @gaps_b);
is(scalar(grep { $_ >= 0 } @gaps_b), 3, 'part (b): each tenant was looked up by name');
cmp_ok((sort { $a <=> $b } @gaps_b)[0], '>=', 2.9,
	'part (b): no look-up earlier than request_timeout + settle_margin (3 s, minus 0.1 s) after the POST');
note_calls($node);

is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE state <> 'succeeded'"),
	'0', 'no job in any other state than succeeded');
is(scalar @{ $emu->projects }, 8, '8 projects in the emulator for 8 tenants');
my @leaks = secrets_leaked($node);
is_deeply(\@leaks, [], 'no secret in the log or tables');

done_testing();
