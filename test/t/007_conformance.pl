# 007_conformance: our own traffic checked against Neon's official OpenAPI spec.
#
# neon_platform.api_url points at `prism proxy --errors` (test/conformance/prism.py, spec of
# @neondatabase/api-client 2.7.3) in front of the emulator. Prism answers any request that
# violates the spec itself (so the tenant would not become ready) and turns a response that
# violates it into a 500; check_log.py then reads Prism's log: zero violations allowed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my $N = 20;

if (!prism_installed())
{
	my $msg = 'SKIPPING CONFORMANCE: test/conformance/node_modules (prism, Neon spec) or prism.py/check_log.py '
	  . 'is missing; run "cd test/conformance && npm ci" (tools/test.sh does it)';
	diag "\n" . ('!' x 78) . "\n$msg\n" . ('!' x 78);
	plan skip_all => $msg;
}

my $emu   = NeonEmulator->new(name => 'emu', operation_ms => 50);
my $prism = start_prism($emu->api_url, name => 'prism');
note "prism proxy at $prism->{url} in front of " . $emu->api_url;

my $node = neon_node('primary', $prism->{url});
wait_worker_pid($node) or die 'no worker';

note "provisioning $N tenants through prism";
my %jobs = provision($node, tenants('c', $N));
my $ok = wait_jobs_done($node, timeout => 120);
ok($ok, 'the queue drained');
is($node->safe_psql('postgres', "SELECT state, count(*) FROM neon_platform.jobs GROUP BY 1"),
	"succeeded|$N", "all $N jobs succeeded through prism");
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.tenants WHERE state = 'ready' AND pooler_host LIKE '%-pooler%'"),
	$N, "all $N tenants ready");
my $posts = $emu->count_requests('POST', qr{^/api/v2/projects$});
is($posts, $N, "prism forwarded exactly $N POST /projects to the emulator");
my $calls = $node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls");
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE status BETWEEN 200 AND 299"),
	$calls, 'every call the worker made got a 2xx from prism (no 4xx/5xx from a violation)');

note 'prism log check';
$node->stop;
stop_prism($prism);
my ($rc, $out) = check_prism_log($prism->{log}, $calls);
is($rc, 0, "check_log.py: at least $calls validated exchanges, zero violations") or diag $out;
note $out;

done_testing();
