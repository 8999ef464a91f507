# 021_claim: neon_claim makes a link with which the tenant's end user takes the project into
# their own Neon account. The link is stored on the tenant; once the user has accepted (in the
# emulator, with the end user's key), the next job of the tenant finds the project gone and the
# tenant becomes claimed: its password is forgotten and no job touches the project again. In a
# batched transfer, a claimed project fails only its own job. A link that expired is reported in
# neon_platform.claims, its acceptance is refused by Neon, and neon_claim makes a new one.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use NeonEmulator;
use NeonTest;

my $emu = NeonEmulator->new(name => 'emu', operation_ms => 50, rate_limit_rpm => 0, burst_rps => 0);
my $node = neon_node('primary', $emu, guc => { claim_redirect_url => 'https://app.example/welcome?from=neon' });
wait_worker_pid($node) or die 'no worker';

provision($node, tenants('c', 4, tiers => ['free']));
ok(wait_jobs_done($node), 'four tenants provisioned');
my %project = map { @$_ } @{ query_rows($node, 'SELECT tenant, project_id FROM neon_platform.tenants') };

note 'a link that will expire: one minute, the shortest';
my $short = $node->safe_psql('postgres', "SELECT neon_claim('c-002', '1 minute')");
is($node->safe_psql('postgres', "SELECT neon_wait($short)"), 'succeeded', 'a one-minute link for c-002');

note 'a link for c-001';
my $job = $node->safe_psql('postgres', "SELECT neon_claim('c-001')");
is($node->safe_psql('postgres', "SELECT neon_wait($job)"), 'succeeded', 'the claim job succeeded');
my ($url, $hours) = split /\|/, $node->safe_psql('postgres',
	"SELECT claim_url, round(extract(epoch FROM claim_expires_at - now()) / 3600) FROM neon_platform.tenants WHERE tenant = 'c-001'");
like($url, qr{^https://console\.neon\.tech/app/claim\?p=\Q$project{'c-001'}\E&tr=[0-9a-f-]{36}&ru=https%3A%2F%2Fapp\.example%2Fwelcome%3Ffrom%3Dneon$},
	'the link is stored on the tenant, every value percent-encoded');
is($hours, 24, 'it expires in 24 hours (the default)');
unlike($node->safe_psql('postgres', "SELECT result::text FROM neon_platform.jobs WHERE id = $job"),
	qr/claim\?/, 'the job row keeps only the expiry, not the link');
is($node->safe_psql('postgres', "SELECT status FROM neon_platform.claims WHERE tenant = 'c-001'"), 'open',
	'neon_platform.claims shows it open');
is($node->safe_psql('postgres', "SELECT neon_claim('c-001')"), $job, 'asking again returns the open link\'s job');
my ($tr) = $url =~ /tr=([0-9a-f-]+)/;

note 'the end user accepts';
my ($status) = $emu->api('PUT', "/projects/$project{'c-001'}/transfer_requests/$tr", key => 'user', body => {});
is($status, 204, 'Neon (the emulator) accepts the transfer request with the end user\'s key');
($status) = $emu->api('PUT', "/projects/$project{'c-001'}/transfer_requests/$tr", key => 'user', body => {});
is($status, 409, 'a second acceptance is refused: the request was used');
($status) = $emu->api('GET', "/projects/$project{'c-001'}", key => 'free');
is($status, 404, 'our organization no longer sees the project');

note 'the next job of the tenant notices: a re-apply of its tier';
$emu->clear_requests;
$node->safe_psql('postgres', 'UPDATE neon_platform.tiers SET active_time_seconds = 370000 WHERE name = \'free\'');
ok(wait_jobs_done($node), 'the re-apply jobs ended');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.jobs WHERE kind = 'apply_tier' AND tenant = 'c-001'"),
	'failed', 'c-001\'s re-apply failed');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.tenants WHERE tenant = 'c-001'"), 'claimed',
	'the tenant is claimed');
like($node->safe_psql('postgres', "SELECT last_error FROM neon_platform.tenants WHERE tenant = 'c-001'"),
	qr/the project was claimed: its end user took it into their own Neon account/, 'saying why');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenant_secrets WHERE tenant = 'c-001'"), 0,
	'its password is forgotten');
is($node->safe_psql('postgres', "SELECT status FROM neon_platform.claims WHERE tenant = 'c-001'"), 'claimed',
	'neon_platform.claims shows it claimed');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE kind = 'apply_tier' AND state = 'succeeded'"),
	3, 'the other tenants were re-applied');

note 'no job touches the project any more';
$emu->clear_requests;
$node->safe_psql('postgres', 'UPDATE neon_platform.tiers SET active_time_seconds = 380000 WHERE name = \'free\'');
ok(wait_jobs_done($node), 'the second re-apply ended');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.jobs WHERE kind = 'apply_tier' AND tenant = 'c-001'"),
	1, 'no new job for the claimed tenant');
for my $call ("neon_set_tier('c-001', 'pro')", "neon_deprovision('c-001')", "neon_claim('c-001')",
	"neon_connection_uri('c-001')")
{
	my ($ret, undef, $err) = $node->psql('postgres', "SELECT $call");
	ok($ret != 0 && $err =~ /claimed|state claimed/, "$call is refused");
}
is($emu->count_requests(undef, qr/\Q$project{'c-001'}\E/), 0, 'and no request named its project');

note 'a claimed project in a batched transfer fails only its own job';
my $pid3 = $project{'c-003'};
$job = $node->safe_psql('postgres', "SELECT neon_claim('c-003')");
is($node->safe_psql('postgres', "SELECT neon_wait($job)"), 'succeeded', 'a link for c-003');
my ($tr3) = $node->safe_psql('postgres', "SELECT claim_url FROM neon_platform.tenants WHERE tenant = 'c-003'") =~ /tr=([0-9a-f-]+)/;
($status) = $emu->api('PUT', "/projects/$pid3/transfer_requests/$tr3", key => 'user', body => {});
is($status, 204, 'c-003 is claimed by its end user');
$node->safe_psql('postgres', "SELECT neon_set_tier(t, 'pro') FROM unnest(ARRAY['c-003', 'c-004']) AS t");
ok(wait_jobs_done($node, timeout => 120), 'both upgrades ended');
is($node->safe_psql('postgres', "SELECT tenant, state FROM neon_platform.tenants WHERE tenant IN ('c-003', 'c-004') ORDER BY 1"),
	"c-003|claimed\nc-004|ready", 'c-003 is claimed, c-004 is ready');
is($node->safe_psql('postgres', "SELECT tier, organization FROM neon_platform.tenants WHERE tenant = 'c-004'"),
	'pro|paid', 'and c-004 moved to pro');

note 'the one-minute link expires';
ok(poll_until($node, "SELECT status = 'expired' FROM neon_platform.claims WHERE tenant = 'c-002'", 't', timeout => 90),
	'neon_platform.claims reports c-002\'s link expired');
sleep 2;    # Neon prints expires_at in whole seconds
my ($tr2) = $node->safe_psql('postgres', "SELECT claim_url FROM neon_platform.tenants WHERE tenant = 'c-002'") =~ /tr=([0-9a-f-]+)/;
my $body;
($status, $body) = $emu->api('PUT', "/projects/$project{'c-002'}/transfer_requests/$tr2", key => 'user', body => {});
is($status, 406, 'Neon refuses the expired request');
is($body->{reasons}[0]{code}, 'TRANSFER_REQUEST_EXPIRED', 'saying it expired');
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.tenants WHERE tenant = 'c-002'"), 'ready',
	'the tenant stays ours and ready');
my ($ret, $new, $err) = $node->psql('postgres', "SELECT neon_claim('c-002')");
like($err, qr/the claim link of tenant "c-002" has expired; a new one is made/, 'neon_claim makes a new link');
isnt($new, $short, 'with a new job');
is($node->safe_psql('postgres', "SELECT neon_wait($new)"), 'succeeded', 'which succeeds');
is($node->safe_psql('postgres', "SELECT status FROM neon_platform.claims WHERE tenant = 'c-002'"), 'open', 'the new link is open');

my @leaks = secrets_leaked($node);
is_deeply(\@leaks, [], 'no secret in the log or tables');

done_testing();
