# 024_restores: neon_restore restores a tenant's production branch in place to a point in time,
# keeping what it replaced in a backup branch; neon_undo_restore puts production back from the
# backup (keeping the undone state in a redo branch, deleting the backup), again and again further
# back; neon_redo_restore re-applies; a new restore discards what was undone (the redo branches
# expire and are deleted). neon_restore_snapshot restores a snapshot, finalized: production gets a
# new branch id (stored on the tenant), and the "(old)" branch becomes the backup. A restore Neon
# refuses, or whose operation ends cancelled, fails and leaves the tenant ready; one whose answer
# was lost is looked up by its backup's name, not made twice.
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
	guc => { request_timeout => 2000, settle_margin => 500, operation_poll_interval => 250 });
wait_worker_pid($node) or die 'no worker';

provision($node, tenants('r', 4, tiers => ['free']));
ok(wait_jobs_done($node), 'four free tenants provisioned');
my %project = map { @$_ } @{ query_rows($node, 'SELECT tenant, project_id FROM neon_platform.tenants') };
my %branch  = map { @$_ } @{ query_rows($node, 'SELECT tenant, branch_id FROM neon_platform.tenants') };
sleep 2;    # the points in time restored to come after the projects' creation

# One value of the database.
sub sql { return $node->safe_psql('postgres', $_[0]) }

# The SQLSTATE of a statement that must fail.
sub sqlstate_of
{
	my ($query) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres', "\\set VERBOSITY verbose\n$query", stdout => \$out, stderr => \$err);
	return $err =~ /ERROR:\s+([0-9A-Z]{5}):/ ? $1 : "no error ($out)";
}

# Runs a function that enqueues a job, waits for the job, notes the requests it made; returns
# (job id, job state, the emulator's log of its requests).
sub run_job
{
	my ($call, $what) = @_;
	$emu->clear_requests;
	my $job   = sql("SELECT $call");
	my $state = sql("SELECT neon_wait($job, '60 s')");
	my $log   = $emu->requests;
	note sprintf("%s: job %d %s, %d requests:\n  %s", $what, $job, $state, scalar @$log,
		join("\n  ", map { my $p = $_->{path}; $p =~ s{^/api/v2/projects/[^/]+}{/projects/{id}};
			my $q = join '&', map { my $k = $_; "$k=..." } sort keys %{ $_->{query} // {} };
			"$_->{method} $p" . ($q ? "?$q" : '') . " -> $_->{status}" } @$log));
	return ($job, $state, $log);
}

# How many requests of the log match.
sub count_in { my ($log, $method, $re) = @_; return $emu->count_requests($method, $re, log => $log) }

# The emulator's branch of a project named exactly $name, or undef.
sub branch_named
{
	my ($pid, $name) = @_;
	my ($status, $data) = $emu->api('GET', "/projects/$pid/branches?search=$name", key => 'free');
	die "branch search: $status" unless $status == 200;
	my ($b) = grep { $_->{name} eq $name } @{ $data->{branches} };
	return $b;
}

# The emulator's branch by id, or undef when it is gone.
sub branch_by_id
{
	my ($pid, $id) = @_;
	my ($status, $data) = $emu->api('GET', "/projects/$pid/branches/$id", key => 'free');
	return $status == 200 ? $data->{branch} : undef;
}

# restores of a tenant: "state" per restore, oldest first.
sub restore_states
{
	return sql("SELECT string_agg(state, ',' ORDER BY id) FROM neon_platform.restores WHERE tenant = '$_[0]'");
}

# A branch row: "state|branch_id".
sub branch_row
{
	my ($tenant, $name) = @_;
	return sql("SELECT state || '|' || coalesce(branch_id, '') FROM neon_platform.branches WHERE tenant = '$tenant' AND name = '$name'");
}

my $RESTORE = qr{^/api/v2/projects/[^/]+/branches/[^/]+/restore$};

note 'refused in SQL: a point outside the free tier\'s 1-day restore window, and one in the future';
is(sqlstate_of("SELECT neon_restore('r-001', now() - interval '2 days')"), '22023', 'two days ago: 22023');
is(sqlstate_of("SELECT neon_restore('r-001', now() + interval '1 hour')"), '22023', 'in an hour: 22023');
is(sqlstate_of("SELECT neon_undo_restore('r-001')"), '55000', 'nothing to undo yet: 55000');
is(sql("SELECT count(*) FROM neon_platform.restores"), 0, 'no restore recorded');
is(sql("SELECT state FROM neon_platform.tenants WHERE tenant = 'r-001'"), 'ready', 'the tenant stays ready');

note 'refused by Neon: a point within the window but before the project existed';
my ($job, $state, $log) = run_job("neon_restore('r-001', now() - interval '1 hour')", 'restore before the project');
is($state, 'failed', 'the restore job failed');
like(sql("SELECT last_error FROM neon_platform.tenants WHERE tenant = 'r-001'"),
	qr/HTTP 400: source_timestamp \S+ is before the project was created/,
	'Neon saw the restore\'s source_timestamp and refused it; the reason is on the tenant');
is(sql("SELECT state FROM neon_platform.tenants WHERE tenant = 'r-001'"), 'ready', 'the tenant is ready again');
is(restore_states('r-001'), 'failed', 'the restore failed');
is(sql("SELECT state FROM neon_platform.branches WHERE tenant = 'r-001'"), 'failed', 'its backup branch too');
is(count_in($log, 'POST', $RESTORE), 1, 'one restore call');

note 'a point-in-time restore';
my $to_time = sql("SELECT now() - interval '1 second'");
($job, $state, $log) = run_job("neon_restore('r-001', '$to_time')", 'point-in-time restore A');
is($state, 'succeeded', 'restore A succeeded');
my ($restore_a, $backup_a) = split /\|/, sql("SELECT id, backup_branch FROM neon_platform.restores WHERE job_id = $job");
is(count_in($log, 'POST', qr{^/api/v2/projects/$project{'r-001'}/branches/$branch{'r-001'}/restore$}), 1,
	'one restore call, on production');
is(scalar(grep { $_->{method} eq 'GET' && $_->{path} =~ m{/branches$} && ($_->{query}{search} // '') eq $backup_a } @$log),
	1, 'the backup branch found by its name');
my $pit_cost = scalar @$log;
my $b = branch_named($project{'r-001'}, $backup_a);
ok($b, "the backup branch $backup_a exists at Neon");
is(branch_row('r-001', $backup_a), "ready|$b->{id}", 'its row is ready, with its id');
is(sql("SELECT state || '|' || (last_error IS NULL) FROM neon_platform.tenants WHERE tenant = 'r-001'"), 'ready|true',
	'the tenant is ready, no error');
is(sql("SELECT kind || '|' || state || '|' || next_undo || '|' || next_redo || '|' || (to_time = '$to_time')
          FROM neon_platform.versions WHERE tenant = 'r-001' AND restore_id = $restore_a"),
	'restore|applied|true|false|true', 'neon_platform.versions: applied, the next to undo, at its to_time');

note 'a second restore, then undo, redo';
($job, $state) = run_job("neon_restore('r-001', now() - interval '1 second')", 'point-in-time restore B');
is($state, 'succeeded', 'restore B succeeded');
my ($restore_b, $backup_b) = split /\|/, sql("SELECT id, backup_branch FROM neon_platform.restores WHERE job_id = $job");
my $backup_b_id = (split /\|/, branch_row('r-001', $backup_b))[1];
($job, $state, $log) = run_job("neon_undo_restore('r-001')", 'undo B');
is($state, 'succeeded', 'the undo succeeded');
my $redo_b = sql("SELECT redo_branch FROM neon_platform.restores WHERE id = $restore_b");
is(count_in($log, 'POST', qr{^/api/v2/projects/$project{'r-001'}/branches/$branch{'r-001'}/restore$}), 1,
	'production restored (from the backup)');
is(count_in($log, 'DELETE', qr{/branches/\Q$backup_b_id\E$}), 1, 'the backup branch, consumed, deleted');
my $undo_cost = scalar @$log;
ok(!branch_by_id($project{'r-001'}, $backup_b_id), 'the backup is gone at Neon');
ok(branch_named($project{'r-001'}, $redo_b), "the redo branch $redo_b exists at Neon");
is(branch_row('r-001', $backup_b), "deleted|$backup_b_id", 'the backup\'s row is deleted');
like(branch_row('r-001', $redo_b), qr/^ready\|br-/, 'the redo branch\'s row is ready');
is(restore_states('r-001'), 'failed,applied,undone', 'restore B undone');
is(sql("SELECT string_agg(restore_id || ':' || next_undo || ':' || next_redo, ',' ORDER BY restore_id)
          FROM neon_platform.versions WHERE tenant = 'r-001' AND kind = 'restore' AND state <> 'failed'"),
	"$restore_a:true:false,$restore_b:false:true", 'versions: A is the next to undo, B the next to redo');

($job, $state, $log) = run_job("neon_redo_restore('r-001')", 'redo B');
is($state, 'succeeded', 'the redo succeeded');
is(count_in($log, 'DELETE', qr{/branches/br-}), 1, 'one DELETE: the redo branch, consumed');
ok(!branch_named($project{'r-001'}, $redo_b), 'the redo branch, consumed, is gone at Neon');
is(sql("SELECT state FROM neon_platform.branches WHERE tenant = 'r-001' AND name = '$redo_b'"), 'deleted',
	'its row is deleted');
$b = branch_named($project{'r-001'}, $backup_b);
ok($b && $b->{id} ne $backup_b_id, 'the redone restore keeps production\'s state under the backup\'s name again');
is(branch_row('r-001', $backup_b), "ready|" . ($b ? $b->{id} : ''), 'the backup\'s row is ready with the new id');
is(restore_states('r-001'), 'failed,applied,applied', 'restore B applied again');

note 'undo after undo walks further back';
($job, $state) = run_job("neon_undo_restore('r-001')", 'undo B again');
is($state, 'succeeded', 'B undone');
($job, $state) = run_job("neon_undo_restore('r-001')", 'undo A');
is($state, 'succeeded', 'A undone');
is(restore_states('r-001'), 'failed,undone,undone', 'both restores undone');
is(sqlstate_of("SELECT neon_undo_restore('r-001')"), '55000', 'nothing left to undo: 55000');
is(sql("SELECT restore_id FROM neon_platform.versions WHERE tenant = 'r-001' AND next_redo"), $restore_a,
	'the next redo is A\'s (the oldest undone)');
my @redo = map { $_->[0] } @{ query_rows($node,
	"SELECT redo_branch FROM neon_platform.restores WHERE tenant = 'r-001' AND state = 'undone' ORDER BY id") };
is(scalar(grep { branch_named($project{'r-001'}, $_) } @redo), 2, 'both redo branches exist at Neon');
ok(!branch_named($project{'r-001'}, $backup_a) && !branch_named($project{'r-001'}, $backup_b),
	'both backups are gone at Neon');

note 'a new restore discards what was undone';
($job, $state) = run_job("neon_restore('r-001', now() - interval '1 second')", 'restore C after the undos');
is($state, 'succeeded', 'restore C succeeded');
is(restore_states('r-001'), 'failed,discarded,discarded,applied', 'A and B discarded, C applied');
is(sql("SELECT count(*) FROM neon_platform.branches WHERE tenant = 'r-001' AND name IN ('" . join("', '", @redo) . "') AND expires_at <= now()"),
	2, 'their redo branches expire now');
sql('SELECT neon_platform.enqueue_expired()');
is(sql("SELECT count(*) FROM neon_platform.jobs WHERE kind = 'expire_branch' AND tenant = 'r-001' AND args->>'name' IN ('"
		. join("', '", @redo) . "')"),
	2, 'the expiry round (ours, or the worker\'s own every 10 s) enqueued their deletion once each');
ok(wait_jobs_done($node, timeout => 30), 'the expiry jobs ended');
is(sql("SELECT string_agg(state, ',') FROM neon_platform.branches WHERE tenant = 'r-001' AND name IN ('" . join("', '", @redo) . "')"),
	'deleted,deleted', 'their rows are deleted');
is(scalar(grep { branch_named($project{'r-001'}, $_) } @redo), 0, 'and gone at Neon');
is(sql("SELECT count(*) FROM neon_platform.versions WHERE tenant = 'r-001' AND state = 'discarded'"), 0,
	'versions no longer shows the discarded restores');

note 'a snapshot restore: production gets a new branch id';
my ($status, $data) = $emu->api('POST', "/projects/$project{'r-002'}/branches/$branch{'r-002'}/snapshot?name=s1", key => 'free');
is($status, 200, 'a snapshot s1 taken directly at the emulator');
sql("INSERT INTO neon_platform.snapshots (tenant, name, state, snapshot_id, ready_at)
     VALUES ('r-002', 's1', 'ready', '$data->{snapshot}{id}', now())");
my $uri_before = sql("SELECT neon_connection_uri('r-002')");
sleep 1;    # the snapshot's operation ends (else the restore meets 423 and is retried)
my $old = $branch{'r-002'};
($job, $state, $log) = run_job("neon_restore_snapshot('r-002', 's1')", 'snapshot restore');
is($state, 'succeeded', 'the snapshot restore succeeded');
my $snapshot_cost = scalar @$log;
is(count_in($log, 'POST', qr{^/api/v2/projects/[^/]+/snapshots/\Q$data->{snapshot}{id}\E/restore$}), 1,
	'one snapshot restore call');
is(count_in($log, 'PATCH', qr{/branches/\Q$old\E$}), 1, 'one rename of the old production branch');
my ($new, $endpoint) = split /\|/, sql("SELECT branch_id, endpoint_id FROM neon_platform.tenants WHERE tenant = 'r-002'");
isnt($new, $old, 'tenants.branch_id follows production to its new branch');
$b = branch_by_id($project{'r-002'}, $new);
ok($b && $b->{default}, 'which is the default branch at Neon');
($status, $data) = $emu->api('GET', "/projects/$project{'r-002'}/branches/$new/endpoints", key => 'free');
is($endpoint, $data->{endpoints}[0]{id}, 'tenants.endpoint_id is its read-write endpoint');
my $backup_s = sql("SELECT backup_branch FROM neon_platform.restores WHERE job_id = $job");
is(branch_by_id($project{'r-002'}, $old)->{name}, $backup_s, "the old branch is renamed $backup_s");
ok(!grep({ $_->{name} =~ /\(old\)/ } @{ ($emu->api('GET', "/projects/$project{'r-002'}/branches", key => 'free'))[1]{branches} }),
	'no "(old)" branch left');
is(branch_row('r-002', $backup_s), "ready|$old", 'the backup\'s row holds the old branch');
is(restore_states('r-002'), 'applied', 'the restore applied');
is(sql("SELECT neon_connection_uri('r-002')"), $uri_before, 'the connection string did not change');

note 'a point-in-time restore after it works on the new branch id; two undos go back to the start';
($job, $state, $log) = run_job("neon_restore('r-002', now() - interval '1 second')", 'point-in-time restore after the snapshot restore');
is($state, 'succeeded', 'the point-in-time restore succeeded');
is(count_in($log, 'POST', qr{^/api/v2/projects/[^/]+/branches/\Q$new\E/restore$}), 1, 'on the new branch id');
($job, $state) = run_job("neon_undo_restore('r-002')", 'undo the point-in-time restore');
is($state, 'succeeded', 'undone');
($job, $state, $log) = run_job("neon_undo_restore('r-002')", 'undo the snapshot restore');
is($state, 'succeeded', 'the snapshot restore undone like any restore');
is(count_in($log, 'DELETE', qr{/branches/\Q$old\E$}), 1, 'production restored from the old branch, which is deleted');
is(restore_states('r-002'), 'undone,undone', 'both undone');
is(sql("SELECT branch_id FROM neon_platform.tenants WHERE tenant = 'r-002'"), $new, 'production keeps its new id');

note 'an operation of the restore ends cancelled: the restore did not happen';
$emu->config({ operation_outcomes => [ { action => 'create_timeline', project_id => $project{'r-003'},
			status => 'cancelled', count => 1 } ] });
($job, $state) = run_job("neon_restore('r-003', now() - interval '1 second')", 'restore whose operation is cancelled');
is($state, 'failed', 'the restore job failed');
like(sql("SELECT last_error FROM neon_platform.jobs WHERE id = $job"), qr/\(create_timeline\) .* ended cancelled/,
	'with the operation\'s outcome as the reason');
is(sql("SELECT state || '|' || (last_error LIKE '%cancelled%') FROM neon_platform.tenants WHERE tenant = 'r-003'"),
	'ready|true', 'the tenant is ready again, with the reason');
is(restore_states('r-003'), 'failed', 'the restore failed');
is(sql("SELECT state FROM neon_platform.branches WHERE tenant = 'r-003'"), 'failed', 'its backup branch too');
$emu->config({ operation_outcomes => [] });

note 'the restore answer is lost: looked up by the backup\'s name, not made twice';
$emu->config({ faults => [ { route => "POST /projects/$project{'r-004'}/branches/$branch{'r-004'}/restore",
			kind => 'reset', when => 'after', count => 1 } ] });
($job, $state, $log) = run_job("neon_restore('r-004', now() - interval '1 second')", 'restore with a lost answer');
is($state, 'succeeded', 'the restore succeeded');
is(count_in($log, 'POST', $RESTORE), 1, 'one restore call');
my ($post) = grep { $_->{method} eq 'POST' } @$log;
my ($search) = grep { $_->{method} eq 'GET' && $_->{path} =~ m{/branches$} } @$log;
cmp_ok($search->{at} - $post->{at}, '>=', 2.4, 'looked up only after request_timeout + settle_margin');
my $backup_r4 = sql("SELECT backup_branch FROM neon_platform.restores WHERE job_id = $job");
is(branch_row('r-004', $backup_r4), 'ready|' . branch_named($project{'r-004'}, $backup_r4)->{id},
	'the backup found by its name is recorded');
is(restore_states('r-004'), 'applied', 'the restore applied');
$emu->config({ faults => [] });

note 'an undo whose progress was lost at delete_source (edited by hand) first looks the redo branch up';
my $worker = worker_pid($node);
my $undo = sql("BEGIN;
	SELECT neon_undo_restore('r-004') AS job \\gset
	UPDATE neon_platform.jobs SET step = 'delete_source', progress = '{}' WHERE id = :job RETURNING id;
	COMMIT;");
is(sql("SELECT neon_wait($undo, '60 s')"), 'succeeded', 'the undo succeeded');
my $redo_r4 = sql("SELECT redo_branch FROM neon_platform.restores WHERE tenant = 'r-004'");
is(restore_states('r-004'), 'undone', 'the restore is undone');
is(sql("SELECT string_agg(api.method || ' ' || api.status, ',' ORDER BY api.id) FROM neon_platform.api_calls AS api
          WHERE api.job_id = $undo AND api.path !~ '/operations'"),
	'GET 200,POST 200,GET 200,DELETE 200', 'the look-up found no redo branch, so the undo was made, then the backup deleted');
ok(!branch_named($project{'r-004'}, $backup_r4), 'the backup is gone at Neon');
like(branch_row('r-004', $redo_r4), qr/^ready\|br-/, 'the redo branch\'s row is ready');
is(worker_pid($node), $worker, 'the worker neither crashed nor restarted');

note "requests per call: point-in-time restore $pit_cost, undo $undo_cost, snapshot restore $snapshot_cost (with operation polls)";
note_calls($node, "job_id IN (SELECT id FROM neon_platform.jobs WHERE kind IN ('restore', 'restore_snapshot'))");
is(sql("SELECT count(*) FROM neon_platform.tenants WHERE state <> 'ready'"), 0, 'every tenant ready');

done_testing();
