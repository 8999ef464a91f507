
=pod

=head1 NAME

NeonEmulator - run the Neon API emulator (test/emulator) as a child of a TAP test and talk to
its control API

=head1 SYNOPSIS

  use NeonEmulator;
  my $emu = NeonEmulator->new(name => 'emu', operation_ms => 50, latency_ms => 0);
  $emu->api_url;                         # http://127.0.0.1:PORT/api/v2
  $emu->config({ error_rate => 0.2 });   # POST /_emulator/config
  my $log = $emu->requests;              # [{method, path, query, status, at, fault}, ...]
  $emu->count_requests('POST', qr{^/api/v2/projects$});
  my $projects = $emu->projects;         # every project of both organizations
  $emu->reset;                           # forget state and the request log
  $emu->stop;                            # also done at exit

  # real computes: a local cluster (and pgbouncer) in a temp dir of the test, stopped with the emulator
  my $emu = NeonEmulator->new(computes => 1, pooler => 1, cold_start_ms => 0);
  my ($rc, $out, $err) = $emu->tenant_psql($connection_uri, 'SELECT 1');

Only core Perl modules: HTTP::Tiny, JSON::PP and File::Temp.

=cut

package NeonEmulator;

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp;
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time usleep);

our $EMULATOR = abs_path(dirname(__FILE__) . '/../emulator/neon_emulator.py');
our $CLUSTER  = abs_path(dirname(__FILE__) . '/../emulator/computes_cluster.py');

our %KEYS = (
	free     => 'emulator-free-org-key',
	paid     => 'emulator-paid-org-key',
	personal => 'emulator-personal-key',
	user     => 'emulator-user-key',);
our %ORGS = (free => 'org-agent-free', paid => 'org-agent-paid');

my @running;    # emulators (and other children) to stop at exit

# A test killed by a signal (prove's or make's timeout) still runs the END blocks, so no
# emulator or prism outlives it.
$SIG{TERM} = $SIG{INT} = $SIG{HUP} = sub { print STDERR "killed by SIG$_[0]\n"; exit 1; };

# The python3 to run children with: Debian's, unless NEON_PYTHON says otherwise
# (root's PATH may hold a pyenv shim that the postgres user cannot use).
sub python
{
	return $ENV{NEON_PYTHON} if $ENV{NEON_PYTHON};
	return -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
}

# Directory for logs of children: the TAP framework's log dir if there is one.
sub log_dir
{
	my $dir = $PostgreSQL::Test::Utils::log_path
	  // ($ENV{TESTDIR} ? "$ENV{TESTDIR}/tmp_check/log" : '/tmp');
	return $dir;
}

# spawn_child(name => ..., cmd => [...], ready => qr/(http:\S+)/, timeout => 60)
# Starts a child with stdout/stderr in log files and waits for the ready line on stdout.
# Returns ($pid, $first_capture, $stdout_file, $stderr_file).
sub spawn_child
{
	my (%a) = @_;
	my $base = log_dir() . "/$a{name}";
	my ($out, $err) = ("$base.stdout", "$base.stderr");
	unlink $out;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDIN,  '<',  '/dev/null') or die;
		open(STDOUT, '>',  $out)        or die "$out: $!";
		open(STDERR, '>>', $err)        or die "$err: $!";
		setpgrp(0, 0);
		exec(@{ $a{cmd} }) or POSIX::_exit(127);
	}
	my $deadline = time() + ($a{timeout} // 60);
	while (time() < $deadline)
	{
		if (open(my $fh, '<', $out))
		{
			local $/;
			my $text = <$fh> // '';
			close $fh;
			if ($text =~ $a{ready})
			{
				return ($pid, $1, $out, $err);
			}
		}
		if (waitpid($pid, WNOHANG) == $pid)
		{
			my $errtext = slurp($err);
			die "$a{name} exited before it was ready (status $?): " . shown_command($a{cmd}) . "\n$errtext";
		}
		usleep(50_000);
	}
	kill 'KILL', $pid;
	waitpid($pid, 0);
	die "$a{name} did not print its ready line within the timeout: " . shown_command($a{cmd});
}

# A command line as it may be printed: the passwords of URLs in it replaced by ***.
sub shown_command
{
	my ($cmd) = @_;
	(my $shown = "@$cmd") =~ s{(://[^:/\@\s]*:)[^\@\s]*\@}{$1***\@}g;
	return $shown;
}

sub slurp
{
	my ($file) = @_;
	open(my $fh, '<', $file) or return '';
	local $/;
	my $text = <$fh> // '';
	close $fh;
	return $text;
}

# run_capture(\%env, @cmd) -> (exit code, stdout, stderr), both chomped: a command run to its end,
# with %env added to the environment.
sub run_capture
{
	my ($env, @cmd) = @_;
	my ($out, $err) = (File::Temp->new, File::Temp->new);
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		@ENV{ keys %$env } = values %$env;
		open(STDIN, '<', '/dev/null')
		  && open(STDOUT, '>', $out->filename)
		  && open(STDERR, '>', $err->filename)
		  && exec(@cmd);
		POSIX::_exit(127);
	}
	waitpid($pid, 0);
	my $rc = $? >> 8;
	my ($stdout, $stderr) = (slurp($out->filename), slurp($err->filename));
	chomp($stdout, $stderr);
	return ($rc, $stdout, $stderr);
}

sub stop_child
{
	my ($pid) = @_;
	return unless $pid;
	kill 'TERM', $pid;
	for (1 .. 100)
	{
		return if waitpid($pid, WNOHANG) == $pid;
		usleep(50_000);
	}
	kill 'KILL', $pid;
	waitpid($pid, 0);
}

=pod

=head2 NeonEmulator->new(%opts)

Options: name (log file prefix), latency_ms, error_rate, rate_limit_rpm, burst_rps,
operation_ms, seed: passed as --latency-ms etc.

computes => 1: real computes (test/emulator/README.md, "Real computes"): a local PostgreSQL
cluster started by computes_cluster.py in a temp dir of the test, passed as --computes with
its proxy certificate; every branch is a real database, hosts are 127.0.0.1:P (P + 1 pooled).
With it, pooler => 1 also starts pgbouncer behind the pooled ports (--pooler), and
cold_start_ms => N is passed as --cold-start-ms. stop() (and the end of the test) stops the
cluster too. cluster() is the JSON computes_cluster.py printed (superuser_url, pooler,
tls_cert, tls_key, pg_bindir) plus dir, or undef.

=cut

sub new
{
	my ($class, %opts) = @_;
	my $name = $opts{name} // 'emulator';
	my @cmd = (python(), $EMULATOR, '--port', 0);
	for my $o (qw(latency_ms error_rate rate_limit_rpm burst_rps operation_ms seed cold_start_ms))
	{
		next unless defined $opts{$o};
		(my $flag = $o) =~ s/_/-/g;
		push @cmd, "--$flag", $opts{$o};
	}
	my $self = bless {
		name  => $name,
		owner => $$,    # forked children that exit without exec must not stop it
		http  => HTTP::Tiny->new(timeout => 60, keep_alive => 1, agent => 'neon_platform-tap/1'),
	}, $class;
	push @running, $self;
	if ($opts{computes})
	{
		my $c = $self->{cluster} = start_cluster($name, $opts{pooler});
		push @cmd, '--computes', $c->{superuser_url}, '--computes-tls-cert', $c->{tls_cert},
		  '--computes-tls-key', $c->{tls_key};
		push @cmd, '--pooler', $c->{pooler} if $opts{pooler};
	}
	($self->{pid}, $self->{url}) = spawn_child(
		name  => $name,
		cmd   => \@cmd,
		ready => qr{^neon-emulator listening on (http://\S+)$}m);
	return $self;
}

# start_cluster($name, $pooler): computes_cluster.py start in a new temp dir; its JSON, with dir.
sub start_cluster
{
	my ($name, $pooler) = @_;
	my $dir =
	  defined &PostgreSQL::Test::Utils::tempdir
	  ? PostgreSQL::Test::Utils::tempdir("${name}_computes")
	  : File::Temp::tempdir("${name}_computes_XXXX", TMPDIR => 1, CLEANUP => 1);
	my ($rc, $out, $err) =
	  run_capture({}, python(), $CLUSTER, 'start', $dir, $pooler ? ('--pooler') : ());
	die "computes_cluster.py start $dir failed (exit $rc): $err" if $rc;
	return { %{ decode_json($out) }, dir => $dir };
}

sub cluster { $_[0]{cluster} }

sub url     { $_[0]{url} }
sub api_url { $_[0]{url} . '/api/v2' }
sub pid     { $_[0]{pid} }

sub stop
{
	my ($self) = @_;
	stop_child($self->{pid});
	$self->{pid} = undef;
	my $c = delete $self->{cluster} or return;
	my ($rc, $out, $err) = run_capture({}, python(), $CLUSTER, 'stop', $c->{dir});
	warn "computes_cluster.py stop $c->{dir} failed (exit $rc): $err\n" if $rc;
}

sub DESTROY
{
	my ($self) = @_;
	local ($?, $@);
	$self->stop if $$ == $self->{owner};
}

=pod

=head2 tenant_psql($uri, $sql)

Runs $sql with psql (of the computes cluster's bindir) on a tenant connection URI, its
password through PGPASSWORD and PGSSLMODE from its sslmode (default require); returns
(exit code, stdout, stderr), chomped, in psql's unaligned tuples-only form.

=cut

sub tenant_psql
{
	my ($self, $uri, $sql) = @_;
	my %env = (PGCONNECT_TIMEOUT => 10, PGSSLMODE => $uri =~ /[?&]sslmode=([^&]+)/ ? $1 : 'require');
	my $bare = $uri;
	if ($bare =~ s{^(postgres(?:ql)?://[^:\@/]*):([^\@/]*)\@}{$1\@})
	{
		(my $password = $2) =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge;
		$env{PGPASSWORD} = $password;
	}
	my $psql = $self->{cluster} ? "$self->{cluster}{pg_bindir}/psql" : 'psql';
	return run_capture(\%env, $psql, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', $bare, '-c',
		$sql);
}

# _call(METHOD, URL, body-ref-or-undef, headers) -> (status, decoded-or-raw-content)
sub _call
{
	my ($self, $method, $url, $body, $headers) = @_;
	my %h = (accept => 'application/json', %{ $headers // {} });
	my %o = (headers => \%h);
	if (defined $body)
	{
		$h{'content-type'} = 'application/json';
		$o{content} = encode_json($body);
	}
	my $res = $self->{http}->request($method, $url, \%o);
	my $content = $res->{content} // '';
	my $data = $content;
	if (length $content && ($res->{headers}{'content-type'} // '') =~ /json/)
	{
		$data = eval { decode_json($content) } // $content;
	}
	return ($res->{status}, $data);
}

sub control
{
	my ($self, $method, $name, $body) = @_;
	my ($status, $data) = $self->_call($method, $self->{url} . "/_emulator$name", $body);
	die "emulator control $method $name: $status "
	  . (ref $data ? encode_json($data) : $data)
	  unless $status == 200;
	return $data;
}

=pod

=head2 Control API

requests(since => unix_seconds): the request log (arrayref of hashes: method, path with
/api/v2, query, status, at, fault); reset(config => 1): forget all state and the log
(config => 1 also restores the start-up configuration); config(\%cfg): POST
/_emulator/config, returns the new configuration; usage($project_id_or_undef, \%add).

=cut

sub requests
{
	my ($self, %q) = @_;
	my $qs = join '&', map { "$_=$q{$_}" } sort keys %q;
	return $self->control('GET', '/requests' . ($qs ? "?$qs" : ''));
}

sub clear_requests { $_[0]->control('DELETE', '/requests') }

sub reset
{
	my ($self, %opts) = @_;
	return $self->control('POST', '/reset', \%opts);
}

sub config
{
	my ($self, $cfg) = @_;
	return $self->control('POST', '/config', $cfg);
}

sub usage
{
	my ($self, $project_id, $add) = @_;
	my %b = (add => $add);
	$b{project_id} = $project_id if defined $project_id;
	return $self->control('POST', '/usage', \%b);
}

# count_requests($method_or_undef, $path_regex_or_undef, %filters): how many logged
# /api/v2 requests match; filters: status => N, log => $already_fetched_log.
sub count_requests
{
	my ($self, $method, $path_re, %f) = @_;
	my $log = $f{log} // $self->requests;
	return scalar grep {
		(!defined $method || $_->{method} eq $method)
		  && (!defined $path_re || $_->{path} =~ $path_re)
		  && (!defined $f{status} || ($_->{status} // -1) == $f{status})
	} @$log;
}

# wait_requests($method, $path_re, $min, timeout => 30): wait until at least $min matching
# requests are in the log; returns the count (which may be below $min on timeout).
sub wait_requests
{
	my ($self, $method, $path_re, $min, %o) = @_;
	my $deadline = time() + ($o{timeout} // 30);
	my $n = 0;
	while (1)
	{
		$n = $self->count_requests($method, $path_re);
		return $n if $n >= $min || time() >= $deadline;
		usleep(20_000);
	}
}

=pod

=head2 Neon API as a client

api($method, $path, key => 'free'|'paid'|'personal'|literal, body => \%b): a call below
/api/v2, returns (status, decoded body). projects(): every project of both organizations
(listed with each organization's key, 400 a page). These calls show up in the request log:
count before listing.

=cut

sub api
{
	my ($self, $method, $path, %o) = @_;
	my $key = $KEYS{ $o{key} // 'personal' } // $o{key};
	return $self->_call($method, $self->api_url . $path, $o{body},
		{ authorization => "Bearer $key" });
}

sub projects
{
	my ($self, %o) = @_;
	my @orgs = $o{org} ? ($o{org}) : qw(free paid);
	my @all;
	for my $org (@orgs)
	{
		my $cursor;
		for my $page (1 .. 200)
		{
			my $path = '/projects?limit=400' . (defined $cursor ? "&cursor=$cursor" : '');
			my ($status, $data) = $self->api('GET', $path, key => $org);
			die "GET $path with the $org key: $status " . (ref $data ? encode_json($data) : $data)
			  unless $status == 200;
			my $items = $data->{projects} // [];
			push @all, map { { %$_, _org => $org } } @$items;
			last if @$items < 400;
			$cursor = $data->{pagination}{cursor};
			last unless defined $cursor;
		}
	}
	return \@all;
}

sub project_count { scalar @{ $_[0]->projects } }

# projects_by_name(): { name => count } over both organizations.
sub projects_by_name
{
	my ($self) = @_;
	my %n;
	$n{ $_->{name} }++ for @{ $self->projects };
	return \%n;
}

END
{
	local $?;
	$_->stop for grep { $$ == $_->{owner} } @running;
}

1;
