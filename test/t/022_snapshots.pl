# 022_snapshots: neon_snapshot takes a snapshot of a tenant's production branch (named in the
# query string, its operation waited for); the tier's limit is enforced in SQL (54000, nothing
# enqueued), Neon's own one too (422); replace => true deletes the oldest first and waits for
# that deletion; the same name again returns the same job; a create whose answer was lost is
# looked up by name, not repeated; an operation that ends cancelled fails the job; snapshots
# whose expires_at passed are deleted by background jobs (404 when Neon deleted them itself).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use NeonEmulator;
use NeonTest;

my $emu = NeonEmulator->new(name => 'emu', operation_ms => 300, rate_limit_rpm => 0, burst_rps => 0);
my $node = neon_node('primary', $emu,
	guc => { request_timeout => 2000, settle_margin => 500, operation_poll_interval => 500 });
wait_worker_pid($node) or die 'no worker';

provision($node, [ 'f-1', 'free' ], [ 'f-2', 'free' ], [ 'p-1', 'pro' ], [ 'p-2', 'pro' ]);
ok(wait_jobs_done($node), 'two free tenants and two pro ones provisioned');
my %project = map { @$_ } @{ query_rows($node, 'SELECT tenant, project_id FROM neon_platform.tenants') };
my %branch = map { @$_ } @{ query_rows($node, 'SELECT tenant, branch_id FROM neon_platform.tenants') };
my %key = ('f-1' => 'free', 'f-2' => 'free', 'p-1' => 'paid', 'p-2' => 'paid');

# The snapshots Neon (the emulator) holds for a tenant: name => id.
sub neon_snapshots
{
	my ($tenant) = @_;
	my ($status, $data) = $emu->api('GET', "/projects/$project{$tenant}/snapshots", key => $key{$tenant});
	die "GET snapshots of $tenant: $status" unless $status == 200;
	return { map { $_->{name} => $_->{id} } @{ $data->{snapshots} } };
}

# The requests of the log that concern a tenant's project.
sub tenant_requests
{
	my ($tenant, $log) = @_;
	return grep { $_->{path} =~ m{^/api/v2/projects/\Q$project{$tenant}\E(/|$)} } @{ $log // $emu->requests };
}

# Requests as "METHOD path status", the project's prefix left out, for the reader of the log.
sub describe
{
	return join ', ', map { "$_->{method} " . ($_->{path} =~ s{^/api/v2/projects/[^/]+}{}r) . " $_->{status}" } @_;
}

# A snapshot's row: state|snapshot_id|last_error.
sub snapshot_row
{
	my ($tenant, $name) = @_;
	return $node->safe_psql('postgres',
		"SELECT state || '|' || coalesce(snapshot_id, '') || '|' || coalesce(last_error, '')
		   FROM neon_platform.snapshots WHERE tenant = '$tenant' AND name = '$name'");
}

# A call that must fail: its SQLSTATE and message.
sub sql_error
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	return $err;
}

my %cost;

note 'a free tenant (limit 1): one snapshot';
sleep 1;    # the provisioning's operations end, as they would long before a person asks for a snapshot
$emu->clear_requests;
my $first = $node->safe_psql('postgres', "SELECT neon_snapshot('f-1', 'first')");
is($node->safe_psql('postgres', "SELECT neon_wait($first)"), 'succeeded', 'the snapshot job succeeded');
my ($state, $first_id) = split /\|/, snapshot_row('f-1', 'first');
is($state, 'ready', 'its row is ready');
is_deeply(neon_snapshots('f-1'), { first => $first_id }, 'Neon holds exactly it, with the id of the row');
my @log = tenant_requests('f-1');
my @posts = grep { $_->{method} eq 'POST' } @log;
is(scalar @posts, 1, 'one create');
is($posts[0]{path}, "/api/v2/projects/$project{'f-1'}/branches/$branch{'f-1'}/snapshot",
	'of the production branch');
is($posts[0]{query}{name}, 'first', 'named in the query string');
$cost{snapshot} = scalar(@log) - 1;    # less the test's own list above
note 'requests of one snapshot: ' . describe(@log[ 0 .. $#log - 1 ]);

note 'a second one on the free tenant: the limit, in SQL';
my $jobs_before = $node->safe_psql('postgres', 'SELECT count(*) FROM neon_platform.jobs');
like(sql_error("SELECT neon_snapshot('f-1', 'second')"),
	qr/ERROR:  54000: tenant "f-1" has reached the snapshot limit of tier "free" \(1\)/,
	'refused with SQLSTATE 54000');
is($node->safe_psql('postgres', 'SELECT count(*) FROM neon_platform.jobs'), $jobs_before, 'nothing enqueued');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.snapshots WHERE name = 'second'"), 0,
	'no row');

note 'the same name again: the same job, nothing created';
$emu->clear_requests;
is($node->safe_psql('postgres', "SELECT neon_snapshot('f-1', 'first')"), $first, 'neon_snapshot returns its job');
is($node->safe_psql('postgres', 'SELECT count(*) FROM neon_platform.jobs'), $jobs_before, 'no job enqueued');

note 'replace => true: the oldest is deleted first';
my ($second, $step) = split /\n/, $node->safe_psql('postgres', "BEGIN;
	SELECT neon_snapshot('f-1', 'second', replace => true) AS id \\gset
	SELECT :id; SELECT step FROM neon_platform.jobs WHERE id = :id; COMMIT;");
is($step, 'delete_replaced', 'the job starts by deleting the replaced snapshot');
is($node->safe_psql('postgres', "SELECT neon_wait($second)"), 'succeeded', 'the replacing snapshot succeeded');
my ($second_state, $second_id) = split /\|/, snapshot_row('f-1', 'second');
is($second_state, 'ready', 'the new row is ready');
is((split /\|/, snapshot_row('f-1', 'first'))[0], 'deleted', 'the replaced row is deleted');
is_deeply(neon_snapshots('f-1'), { second => $second_id }, 'Neon holds exactly the new one');
@log = tenant_requests('f-1');
my ($delete) = grep { $_->{method} eq 'DELETE' } @log;
my ($post) = grep { $_->{method} eq 'POST' } @log;
is($delete->{path}, "/api/v2/projects/$project{'f-1'}/snapshots/$first_id", 'the DELETE names the replaced snapshot');
is($delete->{status}, 202, 'Neon took it');
cmp_ok($post->{at} - $delete->{at}, '>=', 0.25, 'the create came after the deletion\'s operation ended');
$cost{replace} = scalar(@log) - 1;
note 'requests of a replacing snapshot: ' . describe(@log[ 0 .. $#log - 1 ]);

note 'Neon\'s own limit: a snapshot made behind our back on f-2';
my ($status) = $emu->api('POST', "/projects/$project{'f-2'}/branches/$branch{'f-2'}/snapshot?name=manual", key => 'free');
is($status, 200, 'a snapshot made directly at the emulator');
my $refused = $node->safe_psql('postgres', "SELECT neon_snapshot('f-2', 'mine')");
is($node->safe_psql('postgres', "SELECT neon_wait($refused)"), 'failed', 'our snapshot fails');
like(snapshot_row('f-2', 'mine'), qr/^failed\|\|the snapshot was refused: .*HTTP 422: SNAPSHOTS_LIMIT_EXCEEDED/,
	'its row is failed with Neon\'s 422');

note 'a pro tenant (limit 10): several snapshots in one transaction';
sleep 1;
$emu->clear_requests;
my @pro = split /\n/, $node->safe_psql('postgres', "BEGIN;
	SELECT neon_snapshot('p-1', 'p-' || i) FROM generate_series(1, 4) AS i;
	SELECT neon_snapshot('p-1', 'p-1'); COMMIT;");
is(pop @pro, $pro[0], 'asking again for one being made returns its job');
is(scalar @pro, 4, 'four jobs');
ok(wait_jobs_done($node), 'they ended');
is($node->safe_psql('postgres', "SELECT string_agg(DISTINCT state, ',') FROM neon_platform.jobs WHERE id IN (" . join(',', @pro) . ')'),
	'succeeded', 'all succeeded');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.snapshots WHERE tenant = 'p-1' AND state = 'ready'"),
	4, 'four rows ready');
is(join(',', sort keys %{ neon_snapshots('p-1') }), 'p-1,p-2,p-3,p-4', 'Neon holds the four');
$cost{pro} = (scalar(tenant_requests('p-1')) - 1) / 4;

note 'the limit and replace on the pro tenant (its tier lowered to 4 snapshots)';
$node->safe_psql('postgres', "UPDATE neon_platform.tiers SET max_snapshots = 4 WHERE name = 'pro'");
my ($ret, undef, $err) = $node->psql('postgres', "SELECT neon_snapshot('p-1', 'p-5')");
ok($ret != 0 && $err =~ /has reached the snapshot limit of tier "pro" \(4\)/, 'a fifth is refused in SQL');
my $fifth = $node->safe_psql('postgres', "SELECT neon_snapshot('p-1', 'p-5', replace => true)");
is($node->safe_psql('postgres', "SELECT neon_wait($fifth)"), 'succeeded', 'with replace => true it succeeds');
is(join(',', sort keys %{ neon_snapshots('p-1') }), 'p-2,p-3,p-4,p-5', 'Neon holds the four newest: the oldest was replaced');
$node->safe_psql('postgres', "UPDATE neon_platform.tiers SET max_snapshots = 10 WHERE name = 'pro'");

note 'a create whose answer is lost: looked up by name, not repeated';
$emu->config({ faults => [ { route => 'POST /projects/{project_id}/branches/{branch_id}/snapshot', kind => 'reset', when => 'after', count => 1 } ] });
$emu->clear_requests;
my $lost = $node->safe_psql('postgres', "SELECT neon_snapshot('p-1', 'lost')");
is($node->safe_psql('postgres', "SELECT neon_wait($lost)"), 'succeeded', 'the snapshot job succeeded');
@log = tenant_requests('p-1');
is(scalar(grep { $_->{method} eq 'POST' } @log), 1, 'one create only');
my @lookups = grep { $_->{method} eq 'GET' && $_->{path} =~ m{/snapshots$} } @log;
is(scalar @lookups, 1, 'it was looked up by name');
note 'requests of a snapshot whose answer was lost: ' . describe(@log);
is(neon_snapshots('p-1')->{lost}, (split /\|/, snapshot_row('p-1', 'lost'))[1], 'the row has the id Neon gave it');
$emu->config({ faults => [] });

note 'a snapshot whose operation ends cancelled (p-2)';
$emu->config({ operation_outcomes => [ { action => 'create_branch', project_id => $project{'p-2'}, status => 'cancelled', count => 1 } ] });
my $doomed = $node->safe_psql('postgres', "SELECT neon_snapshot('p-2', 'doomed')");
is($node->safe_psql('postgres', "SELECT neon_wait($doomed)"), 'failed', 'the job failed');
like($node->safe_psql('postgres', "SELECT last_error FROM neon_platform.jobs WHERE id = $doomed"),
	qr/\(create_branch\) of project \S+ ended cancelled/, 'because its operation ended cancelled');
like(snapshot_row('p-2', 'doomed'), qr/^failed\|\|Neon operation .* ended cancelled/,
	'the row is failed, with the reason');
$emu->config({ operation_outcomes => [] });
is($node->safe_psql('postgres', "SELECT state FROM neon_platform.tenants WHERE tenant = 'p-2'"), 'ready',
	'the tenant stays ready');

note 'expiry: one that Neon deletes itself, one whose expiry we bring forward';
my $jobs = $node->safe_psql('postgres',
	"SELECT neon_snapshot('p-1', 'short', expires_at => now() + interval '3 s') || ',' || neon_snapshot('p-1', 'hour', expires_at => now() + interval '1 hour')");
ok(wait_jobs_done($node), 'two snapshots with an expiry taken');
is($node->safe_psql('postgres', "SELECT string_agg(state, ',') FROM neon_platform.jobs WHERE id IN ($jobs)"),
	'succeeded,succeeded', 'both succeeded');
my ($short_post) = grep { $_->{method} eq 'POST' && $_->{query}{name} eq 'short' } @{ $emu->requests };
like($short_post->{query}{expires_at}, qr/^\d{4}-\d\d-\d\dT/, 'the expiry went in the query string');
my $hour_id = (split /\|/, snapshot_row('p-1', 'hour'))[1];
$node->safe_psql('postgres', "UPDATE neon_platform.snapshots SET expires_at = now() WHERE tenant = 'p-1' AND name = 'hour'");
$emu->clear_requests;
ok(poll_until($node, "SELECT string_agg(state, ',' ORDER BY name) FROM neon_platform.snapshots WHERE name IN ('short', 'hour')",
		'deleted,deleted', timeout => 30),
	'both rows deleted by the background jobs');
is($node->safe_psql('postgres', "SELECT string_agg(state, ',') FROM neon_platform.jobs WHERE kind = 'delete_snapshot'"),
	'succeeded,succeeded', 'two delete_snapshot jobs succeeded');
my $held = neon_snapshots('p-1');
ok(!exists $held->{short} && !exists $held->{hour}, 'Neon holds neither');
@log = tenant_requests('p-1');
my @deletes = grep { $_->{method} eq 'DELETE' } @log;
is(join(',', sort map { $_->{status} } @deletes), '202,404',
	'the one Neon had deleted itself answered 404; the other was deleted (202)');
my ($hour_delete) = grep { $_->{status} == 202 } @deletes;
is($hour_delete->{path}, "/api/v2/projects/$project{'p-1'}/snapshots/$hour_id", 'the 202 is the brought-forward one');
$cost{expiry} = scalar(@log) - 1;
note 'requests of the two expiries: ' . describe(@log[ 0 .. $#log - 1 ]);

note sprintf('requests per snapshot (emulator log, operations of 300 ms, polled every 500 ms): '
	  . 'free tenant %d, with replace %d, pro tenant %.2f (4 in a row); both expiries %d (404: 1, 202: the rest)',
	$cost{snapshot}, $cost{replace}, $cost{pro}, $cost{expiry});
cmp_ok($cost{snapshot}, '<=', 5, 'a snapshot costs at most 5 requests');
note_calls($node, "path LIKE '%snapshot%'");

done_testing();
