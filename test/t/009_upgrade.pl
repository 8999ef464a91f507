# 009_upgrade: ALTER EXTENSION neon_platform UPDATE TO '0.2.0' ends where CREATE EXTENSION
# of 0.2.0 starts, and the work a 0.1.0 installation left unfinished goes on.
#
# Story: the extension lives only in neon_platform.database_name, so two nodes. Node "fresh"
# creates 0.2.0. Node "upgraded" creates 0.1.0 with its worker paused, provisions tenants with
# the 0.1.0 API (their jobs stay queued), has one provisioning that failed and one job that a
# 0.1.0 worker was carrying out when the server stopped (running, with its lease); it is
# restarted with the new library, which runs a pass against the 0.1.0 schema, then updated.
# Both schemas (pg_dump --schema-only --binary-upgrade: the only mode that dumps the
# members of an extension) and both member lists are the same; the old jobs carry the
# 0.2.0 args (project name and plan); once the worker is unpaused every tenant becomes
# ready against the emulator, with one project each.
use strict;
use warnings;
use File::Temp qw(tempfile);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my $emu = NeonEmulator->new(name => 'emu', operation_ms => 50);

note 'node "fresh": CREATE EXTENSION neon_platform (the default version)';
my $fresh = neon_node('fresh', $emu, guc => { paused => 'on' });
is($fresh->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'neon_platform'"),
	'0.2.0', 'fresh: version 0.2.0');

note 'node "upgraded": CREATE EXTENSION neon_platform VERSION 0.1.0, worker paused';
my $node = neon_node('upgraded', $emu, guc => { paused => 'on' }, no_extension => 1);
wait_worker_pid($node) or die 'no worker';
$node->safe_psql('postgres', "CREATE EXTENSION neon_platform VERSION '0.1.0'");
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'neon_platform'"),
	'0.1.0', 'upgraded: version 0.1.0');

my %jobs = provision($node, [ 'up-free', 'free' ], [ 'up-pro', 'pro' ], [ 'up-running', 'free' ],
	[ 'up-failed', 'pro' ]);
is(scalar keys %jobs, 4, 'four tenants provisioned with the 0.1.0 API');
is( $node->safe_psql('postgres', 'SELECT tenant, args::text FROM neon_platform.jobs ORDER BY id'),
	join("\n",
		'up-free|{"tier": "free"}', 'up-pro|{"tier": "pro"}',
		'up-running|{"tier": "free"}', 'up-failed|{"tier": "pro"}'),
	'0.1.0 jobs carry only the tier');

# What a 0.1.0 worker leaves behind: a job it was carrying out when the server stopped
# (running, leased), and a provisioning that failed before any project existed.
$node->safe_psql(
	'postgres', q{
	UPDATE neon_platform.jobs
	   SET state = 'running', attempts = 1, started_at = now(), updated_at = now(),
	       lease_until = now() + interval '5 min'
	 WHERE tenant = 'up-running';
	UPDATE neon_platform.jobs
	   SET state = 'failed', attempts = 10, finished_at = now(), last_http_status = 500,
	       last_error = 'HTTP 500: internal error', updated_at = now()
	 WHERE tenant = 'up-failed';
	UPDATE neon_platform.tenants SET state = 'failed', last_error = 'HTTP 500: internal error'
	 WHERE tenant = 'up-failed';
});

note 'restart with the new library: the worker runs a pass against the 0.1.0 schema';
$node->restart;
wait_worker_pid($node) or die 'no worker after the restart';
ok( poll_until(
		$node,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'neon_platform worker' AND state IS NOT NULL",
		'1', timeout => 30),
	'the worker has run a pass');

note "ALTER EXTENSION neon_platform UPDATE TO '0.2.0'";
$node->safe_psql('postgres', "ALTER EXTENSION neon_platform UPDATE TO '0.2.0'");
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'neon_platform'"),
	'0.2.0', 'upgraded: version 0.2.0');

note 'the schemas are the same';
my $dump_fresh    = schema_dump($fresh);
my $dump_upgraded = schema_dump($node);
append_to_file("$PostgreSQL::Test::Utils::log_path/009_dump_fresh.sql",    $dump_fresh);
append_to_file("$PostgreSQL::Test::Utils::log_path/009_dump_upgraded.sql", $dump_upgraded);
ok(length($dump_fresh) > 1000 && $dump_fresh =~ /CREATE TABLE neon_platform\.jobs/,
	'the dump holds the members of the extension');
ok($dump_upgraded eq $dump_fresh, 'pg_dump --schema-only of the updated database equals that of a fresh 0.2.0')
  or diag "diff (fresh -> upgraded):\n" . text_diff($dump_fresh, $dump_upgraded);

my $members_sql = q{
	SELECT pg_describe_object(classid, objid, objsubid) COLLATE "C"
	  FROM pg_depend
	 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'neon_platform')
	 ORDER BY 1};
my $members_fresh    = $fresh->safe_psql('postgres', $members_sql);
my $members_upgraded = $node->safe_psql('postgres', $members_sql);
is($members_upgraded, $members_fresh, 'the same member objects')
  or diag "diff (fresh -> upgraded):\n" . text_diff($members_fresh, $members_upgraded);
like($members_upgraded, qr/function neon_platform\.worker_status\(\)/, 'worker_status() is a member');

note 'the unfinished 0.1.0 jobs now carry the 0.2.0 args';
# The running one may already be queued again: the worker takes back, at its first pass on the
# new schema, what the old worker left running.
like( $node->safe_psql(
		'postgres', q{
	SELECT j.tenant, j.state, coalesce(j.step, '-'), j.args->>'tier', j.args->>'project_name',
	       j.args->'plan' = to_jsonb(r)
	  FROM neon_platform.jobs AS j
	  LEFT JOIN neon_platform.tiers AS r ON r.name = j.args->>'tier'
	 ORDER BY j.id}),
	qr/^\Q@{[ join("\n",
		'up-free|queued|-|free|tenant-up-free|t', 'up-pro|queued|-|pro|tenant-up-pro|t', 'up-running|') ]}\E(running|queued)\Q|find_existing|free|tenant-up-running|t\E\n\Qup-failed|failed|-|pro||\E$/,
	'queued and running provisionings: tier, project name, plan; a running one looks its project up first');

note 'the failed tenant is retried with the 0.2.0 API';
my $retry = $node->safe_psql('postgres', "SELECT neon_provision('up-failed', 'pro')");
like($retry, qr/^\d+$/, 'neon_provision returns a new job');
is( $node->safe_psql(
		'postgres', qq{
	SELECT j.state, j.step, j.args->>'project_name', j.args->'plan' = (SELECT to_jsonb(r) FROM neon_platform.tiers AS r WHERE r.name = 'pro')
	  FROM neon_platform.jobs AS j WHERE j.id = $retry}),
	'queued|find_existing|tenant-up-failed|t', 'the retry carries the full args and looks for a project first');

note 'unpaused: the queued jobs run';
$node->safe_psql('postgres', 'ALTER SYSTEM SET neon_platform.paused = off; SELECT pg_reload_conf();');
ok( poll_until(
		$node,
		"SELECT count(*) FROM neon_platform.jobs WHERE state IN ('queued', 'running') AND tenant <> 'up-running'",
		'0', timeout => 60),
	'the queued jobs ended');
is( $node->safe_psql(
		'postgres', q{
	SELECT tenant, state FROM neon_platform.jobs
	 WHERE id IN (SELECT max(id) FROM neon_platform.jobs GROUP BY tenant) AND tenant <> 'up-running'
	 ORDER BY tenant}),
	"up-failed|succeeded\nup-free|succeeded\nup-pro|succeeded",
	'the last job of each of those tenants succeeded');

note 'the job the 0.1.0 worker left running is taken back: it looks its project up, then creates it';
my $recovered = poll_until($node, "SELECT state FROM neon_platform.jobs WHERE tenant = 'up-running'",
	'succeeded', timeout => 30);
ok($recovered, 'the job left running by the 0.1.0 worker succeeded');
unless ($recovered)
{
	diag $node->safe_psql('postgres',
		"SELECT id, state, step, attempts, started_at, updated_at, last_error FROM neon_platform.jobs WHERE tenant = 'up-running'");
	diag "worker log lines:\n" . join("\n", grep { /neon_platform/ } split /\n/, slurp_file($node->logfile));
}

# The tenants of the queued jobs; the one left running only if its job ran (reported above).
my @tenants = $recovered ? qw(failed free pro running) : qw(failed free pro);
my %org_of = (failed => 'paid', free => 'free', pro => 'paid', running => 'free');
my $in = join ',', map { "'up-$_'" } @tenants;
is( $node->safe_psql(
		'postgres', qq{
	SELECT tenant, state, organization, project_name, project_id IS NOT NULL
	  FROM neon_platform.tenants WHERE tenant IN ($in) ORDER BY tenant}),
	join("\n", map { "up-$_|ready|$org_of{$_}|tenant-up-$_|t" } @tenants),
	'those tenants are ready, in the organization of their tier');

my %orgs;
my %names;
for my $p (@{ $emu->projects })
{
	$names{ $p->{name} }++;
	$orgs{ $p->{name} } = $p->{_org};
}
is_deeply(\%names, { map { ("tenant-up-$_" => 1) } @tenants },
	'the emulator holds one project for each, and no other');
is_deeply([ map { $orgs{"tenant-up-$_"} // 'none' } @tenants ],
	[ map { $org_of{$_} } @tenants ], 'in the organization of its tier');
is( $node->safe_psql(
		'postgres', qq{
	SELECT count(*) FROM neon_platform.tenants AS t
	  JOIN neon_platform.jobs AS j ON j.tenant = t.tenant AND j.state = 'succeeded'
	 WHERE t.tenant IN ($in) AND t.project_id = j.result->>'project_id'}),
	scalar @tenants, 'the result of each succeeded job names its tenant\'s project');

$node->stop;
$fresh->stop;
done_testing();

# pg_dump --schema-only --binary-upgrade of database postgres, without what differs between
# two clusters by construction: comments, SET lines and the \restrict key; OIDs, and the
# relfrozenxid pg_upgrade would carry over (UPDATE pg_catalog.* statements); sequence
# positions; the placeholder of a dropped column (lease_until), which binary-upgrade mode
# keeps so that attribute numbers survive.
sub schema_dump
{
	my ($n) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'pg_dump', '--schema-only', '--binary-upgrade', '-d', $n->connstr('postgres') ],
		'>', \$out, '2>', \$err)
	  or die 'pg_dump of ' . $n->name . " failed: $err";
	my @keep;
	my $in_catalog_update = 0;
	for my $line (split /\n/, $out)
	{
		if ($in_catalog_update)
		{
			$in_catalog_update = 0 if $line =~ /;$/;
			next;
		}
		if ($line =~ /^UPDATE pg_catalog\./)
		{
			$in_catalog_update = 1 unless $line =~ /;$/;
			next;
		}
		next if $line =~ /^--/ || $line =~ /^\s*$/ || $line =~ /^\\(un)?restrict /;
		next if $line =~ /^SET \w+ = .*;$/ || $line =~ /^SELECT pg_catalog\.set_config\(/;
		next if $line =~ /binary_upgrade_set_next_/;
		next if $line =~ /^SELECT pg_catalog\.setval\(/;
		next if $line =~ /pg\.dropped\./;
		$line =~ s/'\{\d+(,\d+)*\}'/'{OIDS}'/g;
		$line =~ s/'\d+'::pg_catalog\.oid/'OID'::pg_catalog.oid/g;
		push @keep, $line;
	}
	return join("\n", @keep) . "\n";
}

# diff -u of two texts.
sub text_diff
{
	my ($a, $b) = @_;
	my ($fa, $na) = tempfile(DIR => $PostgreSQL::Test::Utils::tmp_check);
	my ($fb, $nb) = tempfile(DIR => $PostgreSQL::Test::Utils::tmp_check);
	print $fa $a;
	print $fb $b;
	close $fa;
	close $fb;
	my $out = '';
	IPC::Run::run([ 'diff', '-u', $na, $nb ], '>', \$out, '2>&1');
	return $out;
}
