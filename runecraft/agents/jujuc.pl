#!/usr/bin/perl
# The hook-tool client's fast path: the same wire format as runecraft/agents/_hooktool.py
# (read it there), in perl-base, which every Debian system has (it is Essential). It uses
# only perl's built-in functions, no module at all, so a call costs a few milliseconds
# where a Python interpreter costs 20 or more; ops runs a tool for every log record.
use strict;

$SIG{PIPE} = 'IGNORE';
my $MAX_REPLY = 256 * 1024 * 1024;
my ($AF_UNIX, $SOCK_STREAM) = (1, 1);    # Linux

sub fail {
    syswrite(STDERR, "ERROR $_[0]\n");
    exit 1;
}

my $context = $ENV{JUJU_CONTEXT_ID} // '';
my $address = $ENV{JUJU_AGENT_SOCKET_ADDRESS} // '';
fail('JUJU_CONTEXT_ID and JUJU_AGENT_SOCKET_ADDRESS must be set')
    if $context eq '' || $address eq '';

my @args = @ARGV;
my $stdin;
for my $i (0 .. $#args) {
    last if $args[$i] eq '--';
    if ($args[$i] eq '--file=-' || ($args[$i] eq '--file' && ($args[$i + 1] // '') eq '-')) {
        binmode STDIN;
        local $/;
        $stdin = <STDIN> // '';
        last;
    }
}
my $cwd = readlink('/proc/self/cwd') // '/';
(my $tool = $0) =~ s{.*/}{}s;
my $body = join("\0",
    $context, $tool, $cwd, scalar(@args), @args, defined $stdin ? '1' : '0', $stdin // '');

my $reach = "cannot reach the unit agent at $address";
socket(my $sock, $AF_UNIX, $SOCK_STREAM, 0) or fail("$reach: $!");
connect($sock, pack('S', $AF_UNIX) . $address . "\0") or fail("$reach: $!");
my $request = pack('N', length $body) . $body;
my $sent = 0;
while ($sent < length $request) {
    my $n = syswrite($sock, $request, length($request) - $sent, $sent);
    fail("$reach: $!") unless defined $n;
    $sent += $n;
}
my $reply = '';
while (1) {
    my $n = sysread($sock, $reply, 1 << 16, length $reply);
    fail("$reach: $!") unless defined $n;
    last if $n == 0;
    fail('reply from the unit agent is too large') if length $reply > $MAX_REPLY;
}
close $sock;
fail('the unit agent closed the connection') if length $reply < 8;
my ($code, $out_size) = unpack('l> N', $reply);
binmode STDOUT;
binmode STDERR;
print STDOUT substr($reply, 8, $out_size);
print STDERR substr($reply, 8 + $out_size);
exit $code;
