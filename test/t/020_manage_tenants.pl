# 020_manage_tenants: an application's own users table, managed with neon_manage_tenants, drives
# the tenants: its INSERT provisions (a rolled-back one leaves nothing at Neon), an UPDATE of the
# plan moves the project to the paid organization, a downgrade that does not fit is refused in
# the application's UPDATE with neon_set_tier's message, and a DELETE removes the project.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my $emu = NeonEmulator->new(name => 'emu', operation_ms => 50, rate_limit_rpm => 0, burst_rps => 0);
my $node = neon_node('primary', $emu);
wait_worker_pid($node) or die 'no worker';

# The emulator's project of a tenant (undef if none), with _org its organization.
sub project_of
{
	my ($tenant) = @_;
	my @found = grep { $_->{name} eq "tenant-$tenant" } @{ $emu->projects };
	return $found[0];
}

note 'the application\'s table, managed';
$node->safe_psql('postgres', q{
	CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, plan text);
	SELECT neon_manage_tenants('users', 'name', 'plan')});

note 'an INSERT of three rows provisions three tenants';
$node->safe_psql('postgres', "INSERT INTO users (name, plan) VALUES ('ann', 'free'), ('bob', NULL), ('cyd', 'pro')");
ok(wait_jobs_done($node), 'the provisionings ended');
is($node->safe_psql('postgres', 'SELECT string_agg(tenant || \':\' || tier || \':\' || state, \',\' ORDER BY tenant) FROM neon_platform.tenants'),
	'ann:free:ready,bob:free:ready,cyd:pro:ready', 'three tenants ready, bob (no plan) on free');
is(join(',', map { "$_->{name}:$_->{_org}" } sort { $a->{name} cmp $b->{name} } @{ $emu->projects }),
	'tenant-ann:free,tenant-bob:free,tenant-cyd:paid', 'three projects at the emulator, in their organizations');

note 'a rolled-back INSERT leaves nothing behind';
$emu->clear_requests;
$node->safe_psql('postgres', "BEGIN; INSERT INTO users (name, plan) VALUES ('dan', 'pro'); ROLLBACK;");
sleep 1;    # time for a worker that would (wrongly) have been woken
is($node->safe_psql('postgres',
		"SELECT (SELECT count(*) FROM neon_platform.tenants WHERE tenant = 'dan') + (SELECT count(*) FROM neon_platform.jobs WHERE tenant = 'dan')"),
	0, 'no tenant and no job for dan');
is($emu->count_requests('POST', qr{^/api/v2/projects$}), 0, 'no project created');
is(project_of('dan'), undef, 'no project of dan at the emulator');

note 'an UPDATE of the plan from free to pro moves the project to the paid organization';
$node->safe_psql('postgres', "UPDATE users SET plan = 'pro' WHERE name = 'ann'");
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE tenant = 'ann' AND kind = 'change_tier'"),
	1, 'the committed UPDATE enqueued a tier change');
ok(wait_jobs_done($node), 'the tier change ended');
is($node->safe_psql('postgres', "SELECT tier, organization, state FROM neon_platform.tenants WHERE tenant = 'ann'"),
	'pro|paid|ready', 'ann is ready on pro, in the paid organization');
is((project_of('ann') // {})->{_org}, 'paid', 'its project is in the paid organization at the emulator');

note 'a downgrade that does not fit is refused in the application\'s UPDATE';
$node->safe_psql('postgres', q{
	INSERT INTO neon_platform.usage (tenant, period_start, period_end, active_time_seconds, compute_time_seconds,
	                                 written_data_bytes, data_transfer_bytes, logical_size_bytes, branches,
	                                 snapshots, read_at)
	VALUES ('ann', now() - interval '1 day', NULL, 0, 0, 0, 0, 0, 50, 0, now())});
my ($ret, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nUPDATE users SET plan = 'free' WHERE name = 'ann'");
isnt($ret, 0, 'the UPDATE fails');
like($err, qr/ERROR:  23514: tenant "ann" does not fit tier "free"/, 'with SQLSTATE 23514 and neon_set_tier\'s message');
like($err, qr/DETAIL:  branches 50 > 10/, 'and the figure that does not fit');
is($node->safe_psql('postgres', "SELECT plan FROM users WHERE name = 'ann'"), 'pro', 'the row keeps its plan');
is($node->safe_psql('postgres', "SELECT tier, state FROM neon_platform.tenants WHERE tenant = 'ann'"),
	'pro|ready', 'the tenant keeps its tier');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE tenant = 'ann' AND kind = 'change_tier'"),
	1, 'no job was enqueued');

note 'a DELETE deprovisions';
$node->safe_psql('postgres', "DELETE FROM users WHERE name = 'bob'");
ok(wait_jobs_done($node), 'the deprovisioning ended');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.tenants WHERE tenant = 'bob'"), 'deleted',
	'bob is deleted');
is(project_of('bob'), undef, 'its project is gone from the emulator');
is(join(',', sort map { $_->{name} } @{ $emu->projects }), 'tenant-ann,tenant-cyd', 'the other projects stay');

my @leaks = secrets_leaked($node);
is_deeply(\@leaks, [], 'no secret in the log or tables');

done_testing();
