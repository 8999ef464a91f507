# 019_deprovision: neon_deprovision deletes a tenant's project, after a final snapshot when asked;
# a project already gone counts as deleted; a delete whose answer was lost is confirmed, not
# repeated blindly; the tenant row stays (state deleted), its password goes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my $emu = NeonEmulator->new(name => 'emu', operation_ms => 300, rate_limit_rpm => 0, burst_rps => 0);
my $node = neon_node('primary', $emu, guc => { request_timeout => 2000, settle_margin => 500 });
wait_worker_pid($node) or die 'no worker';

provision($node, tenants('d', 4, tiers => ['free']));
ok(wait_jobs_done($node), 'four tenants provisioned');
my %project = map { @$_ } @{ query_rows($node, "SELECT tenant, project_id FROM neon_platform.tenants") };

# d-003's project is deleted behind our back; d-004's delete answer will be lost.
my ($status) = $emu->api('DELETE', "/projects/$project{'d-003'}", key => 'free');
is($status, 200, 'd-003\'s project deleted directly at the emulator');
$emu->config({ faults => [ { route => "DELETE /projects/$project{'d-004'}", kind => 'reset', when => 'after', count => 1 } ] });
$emu->clear_requests;

my $jobs = $node->safe_psql('postgres', q{
	SELECT string_agg(neon_deprovision(t, t = 'd-002')::text, ',' ORDER BY t)
	  FROM unnest(ARRAY['d-001', 'd-002', 'd-003', 'd-004']) AS t});
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenants WHERE state IN ('deprovisioning', 'deleted')"), 4,
	'four tenants deprovisioning (or already deleted)');
ok(wait_jobs_done($node, timeout => 60), 'the deprovisionings ended');
is($node->safe_psql('postgres', "SELECT state, count(*) FROM neon_platform.jobs WHERE kind = 'deprovision' GROUP BY 1"),
	'succeeded|4', 'four deprovision jobs succeeded');
is($node->safe_psql('postgres', "SELECT state, count(*) FROM neon_platform.tenants GROUP BY 1"), 'deleted|4',
	'the tenant rows stay, state deleted');
is($node->safe_psql('postgres', 'SELECT count(*) FROM neon_platform.tenant_secrets'), 0, 'their passwords are gone');
is(scalar @{ $emu->projects }, 0, 'no project left at the emulator');

my $log = $emu->requests;
my @snapshots = grep { $_->{method} eq 'POST' && $_->{path} =~ m{/snapshot$} } @$log;
is(scalar @snapshots, 1, 'one final snapshot, for d-002');
is($snapshots[0]{query}{name}, 'final-d-002', 'named after the tenant, in the query string');
like($node->safe_psql('postgres', "SELECT final_snapshot_id FROM neon_platform.tenants WHERE tenant = 'd-002'"),
	qr/^[a-z0-9-]+$/, 'its id is kept on the tenant row');
my ($snap_at) = map { $_->{at} } @snapshots;
my ($delete_d2) = grep { $_->{method} eq 'DELETE' && $_->{path} eq "/api/v2/projects/$project{'d-002'}" } @$log;
cmp_ok($delete_d2->{at} - $snap_at, '>=', 0.25, 'd-002 was deleted only once the snapshot\'s operation ended');
is($emu->count_requests('DELETE', qr{^/api/v2/projects/}, log => $log), 4,
	'one DELETE per tenant (d-003\'s answered 404: already gone)');
my @confirm = grep { $_->{method} eq 'GET' && $_->{path} eq "/api/v2/projects/$project{'d-004'}" } @$log;
is(scalar @confirm, 1, 'd-004: after its lost answer the project was looked up (gone), not deleted again');
like($node->safe_psql('postgres', "SELECT result::text FROM neon_platform.jobs WHERE kind = 'deprovision' AND tenant = 'd-002'"),
	qr/final_snapshot_id/, 'the job\'s result names the snapshot');
is($node->safe_psql('postgres', "SELECT neon_deprovision('d-001')"),
	$node->safe_psql('postgres', "SELECT id FROM neon_platform.jobs WHERE kind = 'deprovision' AND tenant = 'd-001'"),
	'deprovisioning a deleted tenant again returns its job');

done_testing();
