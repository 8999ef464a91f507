# 018_state_guard: a job changed by hand while its call is in flight (a DBA marks it cancelled)
# keeps the state it was given: the worker's record does not overwrite it. What Neon did is
# still recorded on the tenant (the project exists: it is ready, with its password). A job that
# names no tenant for a kind that needs one fails with the reason.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my $emu = NeonEmulator->new(name => 'emu', operation_ms => 50, latency_ms => 2000);
my $node = neon_node('primary', $emu);
wait_worker_pid($node) or die 'no worker';

my %jobs = provision($node, [ 'guard', 'free' ]);
ok(poll_until($node, "SELECT state FROM neon_platform.jobs WHERE id = $jobs{guard}", 'running', timeout => 30),
	'the create is in flight');
$node->safe_psql('postgres',
	"UPDATE neon_platform.jobs SET state = 'cancelled', finished_at = now() WHERE id = $jobs{guard}");
ok(poll_until($node, "SELECT state FROM neon_platform.tenants WHERE tenant = 'guard'", 'ready', timeout => 30),
	'the answer came: the tenant is ready (its project exists)');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.jobs WHERE id = $jobs{guard}"), 'cancelled',
	'the job stays cancelled: the record did not overwrite a state given by hand');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenant_secrets WHERE tenant = 'guard'"), 1,
	'the password was kept');
like(slurp_file($node->logfile), qr/job $jobs{guard} was no longer running when its success was recorded/,
	'the log says why');
is($emu->count_requests('POST', qr{^/api/v2/projects$}), 1, 'one create');

note 'a job of a kind that works for a tenant, enqueued without one, fails with the reason';
my $orphan = $node->safe_psql('postgres',
	"INSERT INTO neon_platform.jobs (tenant, kind, args) VALUES (NULL, 'provision', '{}') RETURNING id");
is($node->safe_psql('postgres', "SELECT neon_wait($orphan)"), 'failed', 'the job failed');
like($node->safe_psql('postgres', "SELECT last_error FROM neon_platform.jobs WHERE id = $orphan"),
	qr/works for a tenant, and the job names none/, 'because it names no tenant');

note 'a job whose step or progress was changed by hand fails with the reason; the worker goes on';
$emu->config({ latency_ms => 0 });
%jobs = provision($node, [ 'edited', 'free' ]);
is($node->safe_psql('postgres', "SELECT neon_wait($jobs{edited})"), 'succeeded', 'tenant edited provisioned');
my $worker = worker_pid($node);

# Each branch is enqueued and its job edited in one transaction: the worker only sees the edited job.
sub edited_create
{
	my ($branch, $set) = @_;
	return $node->safe_psql('postgres', "BEGIN;
		SELECT neon_create_branch('edited', '$branch') AS job \\gset
		UPDATE neon_platform.jobs SET $set WHERE id = :job RETURNING id;
		COMMIT;");
}
my $unknown = edited_create('unknown-step', "step = 'no_such_step'");
my $lacking = edited_create('no-progress', "step = 'fetch_endpoint', progress = '{}'");
is($node->safe_psql('postgres', "SELECT neon_wait($unknown)"), 'failed', 'a job at a step its kind does not have failed');
like($node->safe_psql('postgres', "SELECT last_error FROM neon_platform.jobs WHERE id = $unknown"),
	qr/job kind "create_branch" has no step named like jobs\.step/, 'with the reason');
is($node->safe_psql('postgres', "SELECT neon_wait($lacking)"), 'failed',
	'a job whose progress lacks the branch id its step needs failed');
like($node->safe_psql('postgres', "SELECT last_error FROM neon_platform.jobs WHERE id = $lacking"),
	qr/step fetch_endpoint lacks a value it needs/, 'with the reason');
is($node->safe_psql('postgres',
		"SELECT string_agg(name || ' ' || state, ', ' ORDER BY name) FROM neon_platform.branches WHERE name IN ('unknown-step', 'no-progress')"),
	'no-progress failed, unknown-step failed', 'both branch rows are failed');
is(worker_pid($node), $worker, 'the worker neither crashed nor restarted');
my $after = $node->safe_psql('postgres', "SELECT neon_create_branch('edited', 'after')");
is($node->safe_psql('postgres', "SELECT neon_wait($after)"), 'succeeded', "and the tenant's next job succeeds");

done_testing();
