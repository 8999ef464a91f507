# 002_crash: the worker killed with SIGKILL mid-flight, and the server stopped in immediate
# mode mid-flight, lose no job and create no project twice.
#
# The emulator answers after 300 ms, so when we strike, creates have been sent whose outcome
# the worker never learns (the emulator still carries them out). After the restart the
# worker must find those projects by name instead of creating them again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my $emu  = NeonEmulator->new(name => 'emu', latency_ms => 300, operation_ms => 50);
my $node = neon_node('primary', $emu, guc => { request_timeout => 5000 });

my $POSTS = qr{^/api/v2/projects$};

# check_outcome($label, \%jobs): every job succeeded, every tenant ready, one project each.
sub check_outcome
{
	my ($label, $jobs) = @_;
	my $n   = scalar keys %$jobs;
	my $ids = join ',', values %$jobs;
	ok(wait_jobs_done($node, timeout => 150), "$label: the queue drained") or return;
	is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE id IN ($ids)"),
		$n, "$label: no job lost ($n rows)");
	is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE id IN ($ids) AND state = 'succeeded'"),
		$n, "$label: all $n jobs succeeded");
	my $names = join ',', map { "'$_'" } keys %$jobs;
	is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenants WHERE tenant IN ($names) AND state = 'ready'"),
		$n, "$label: all $n tenants ready");
	my $by_name = $emu->projects_by_name;
	my @dups = grep { $by_name->{$_} > 1 } sort keys %$by_name;
	is_deeply(\@dups, [], "$label: no tenant has two projects");
	my %want = map { ("tenant-$_" => 1) } keys %$jobs;
	is(scalar(grep { $by_name->{$_} } keys %want), $n, "$label: a project for every tenant");
	my %project = map { @$_ } @{ query_rows($node, "SELECT project_name, project_id FROM neon_platform.tenants WHERE tenant IN ($names)") };
	my %emu_id = map { ($_->{name} => $_->{id}) } @{ $emu->projects };
	is(scalar(grep { ($emu_id{$_} // '') eq $project{$_} } keys %project), $n,
		"$label: each tenant records the project the emulator has under its name");
}

note 'part 1: SIGKILL the worker while creates are in flight';
my $pid1 = wait_worker_pid($node) or die 'no worker';
my %jobs1 = provision($node, tenants('kill', 60));
my $seen = $emu->wait_requests('POST', $POSTS, 10, timeout => 30);
cmp_ok($seen, '>=', 10, "creates in flight ($seen sent) before the kill");
my $done_before = $node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE state = 'succeeded'");
note "killing worker $pid1 with SIGKILL; $done_before jobs had succeeded";
my $logpos = -s $node->logfile;
kill 'KILL', $pid1;
ok($node->wait_for_log(qr/terminated by signal 9/, $logpos), 'the postmaster saw the worker die of SIGKILL');
my $pid2 = wait_worker_pid($node, not => $pid1, timeout => 60);
ok($pid2, "after crash recovery a new worker runs (pid " . ($pid2 // 'none') . ")");
check_outcome('after SIGKILL', \%jobs1);
my $log = $emu->requests;
note_calls($node);
note sprintf('emulator saw %d POST /projects and %d GET /projects for 60 tenants',
	$emu->count_requests('POST', $POSTS, log => $log), $emu->count_requests('GET', qr{^/api/v2/projects$}, log => $log));

note 'part 2: stop the server in immediate mode while creates are in flight, then start it';
my $before = $emu->count_requests('POST', $POSTS);
my %jobs2 = provision($node, tenants('imm', 60));
$seen = $emu->wait_requests('POST', $POSTS, $before + 10, timeout => 30) - $before;
cmp_ok($seen, '>=', 10, "creates in flight ($seen sent) before the immediate stop");
$node->stop('immediate');
note 'server stopped in immediate mode; the emulator finishes the creates it had received';
$node->start;
ok(wait_worker_pid($node, timeout => 60), 'worker back after restart');
check_outcome('after immediate stop', \%jobs2);

note 'both parts together';
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE state <> 'succeeded'"),
	'0', 'no job in any other state than succeeded');
is(scalar @{ $emu->projects }, 120, 'exactly 120 projects in the emulator for 120 tenants');
my $retaken = $node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE attempts > 1");
cmp_ok($retaken, '>=', 2, "jobs caught in flight were taken up again ($retaken with attempts > 1)");
my @leaks = secrets_leaked($node);
is_deeply(\@leaks, [], 'no secret in the log or tables after the crashes');

done_testing();
