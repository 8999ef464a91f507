# 004_rate_limit: with requests_per_minute = 120 and burst_per_second = 10 on both sides,
# a backlog of 140 creates saturates the limit for over a minute; the emulator's request log
# never shows more than a token bucket of that size allows, and it never had to answer 429.
#
# A token bucket of capacity B refilled at R per second lets through at most B + R*w requests
# in any window of w seconds: 10 + 2 = 12 in any 1 s, 10 + 120 = 130 in any 60 s.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NeonEmulator;
use NeonTest;

my ($RPM, $BURST, $N) = (120, 10, 140);

my $emu = NeonEmulator->new(name => 'emu', operation_ms => 50,
	rate_limit_rpm => $RPM, burst_rps => $BURST);
my $node = neon_node('primary', $emu,
	guc => { requests_per_minute => $RPM, burst_per_second => $BURST });
wait_worker_pid($node) or die 'no worker';

note "provisioning $N free tenants at once (one account, so one bucket on each side)";
my $t0 = time;
my %jobs = provision($node, tenants('r', $N, tiers => ['free']));
ok(wait_jobs_done($node, timeout => 240), 'the queue drained') or die 'provisioning did not finish';
my $elapsed = time - $t0;
note "took $elapsed s";

is($node->safe_psql('postgres', "SELECT state, count(*) FROM neon_platform.jobs GROUP BY 1"),
	"succeeded|$N", "all $N jobs succeeded");
my $log = $emu->requests;
is($emu->count_requests(undef, undef, log => $log, status => 429), 0, 'the emulator never answered 429');
is($emu->count_requests('POST', qr{^/api/v2/projects$}, log => $log), $N, "$N POST /projects");

my @at = map { $_->{at} } @$log;
my $rate = $RPM / 60;
my $max1  = max_in_window(\@at, 1);
my $max60 = max_in_window(\@at, 60);
my $span  = $at[-1] - $at[0];
note sprintf('%d requests over %.1f s; at most %d in 1 s, %d in 60 s', scalar @at, $span, $max1, $max60);
cmp_ok($max1, '<=', $BURST + $rate * 1, "never more than @{[ $BURST + $rate ]} requests in any 1 s window");
cmp_ok($max60, '<=', $BURST + $rate * 60, "never more than @{[ $BURST + $rate * 60 ]} requests in any 60 s window");
cmp_ok($span, '>=', ($N - $BURST) / $rate * 0.95, 'the backlog was spread over the time the rate requires');
cmp_ok($max60, '>=', 0.8 * $RPM, 'the limit was used, not wasted: at least 80 % of requests_per_minute in the busiest minute');

note 'api_calls agree';
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls"), scalar @$log, 'one api_calls row per request');
is($node->safe_psql('postgres', "SELECT count(*) FROM neon_platform.api_calls WHERE status = 429"), '0', 'no 429 recorded');

done_testing();
