#!/usr/bin/env bash
# End-to-end test of the sensor in network namespaces (nothing leaves the machine):
#   host ns  (10.77.x.2, MAC 02:00:00:00:77:02): `ironroot sensor host-flows --follow`, ordinary
#            traffic, and frames injected through an AF_PACKET socket with the host's MAC and IP,
#            bypassing its IP stack as a management engine does;
#   wire ns  (10.77.x.1): the other end of the veth, an HTTP server and a UDP echo server, and
#            `ironroot sensor --interface` with the host enrolled and its host-flows file;
#   container ns (172.31.x.2) behind the host, masqueraded to the host's address as container
#            runtimes do: its connections reach the wire with the host's MAC and IP, and only
#            conntrack's reply tuple says the host OS made them.
# Asserts: ordinary traffic gives no finding; the injected flows (to an AMT port, to an outside
# peer over TLS, an answer from the host's AMT port) give findings within seconds; then counts
# false positives over a sustained run of ordinary traffic and prints the figure.
#   netns_test.sh IRONROOT_BINARY WORKDIR [SUSTAINED_SECONDS]
set -u
BIN=${1:?ironroot binary}
W=${2:?work directory}
SUSTAIN=${3:-${IRONROOT_NETNS_SUSTAIN:-30}}
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, AF_PACKET, conntrack)"
command -v ip >/dev/null || skip "no ip (iproute2)"
command -v nft >/dev/null || skip "no nft (needed to switch conntrack on in the host namespace)"
command -v python3 >/dev/null || skip "no python3 (traffic and the frame injector)"

tag=$$
H=irh$tag S=irs$tag C=irc$tag VH=vh$tag VS=vs$tag VC=vc$tag VCH=vch$tag
net=$(( tag % 200 + 20 ))
HIP=10.77.$net.2 SIP=10.77.$net.1 CIP=172.31.$net.2 CGW=172.31.$net.1
HMAC=02:00:00:00:77:02 SMAC=02:00:00:00:77:01
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  ip netns del "$H" 2>/dev/null
  ip netns del "$S" 2>/dev/null
  ip netns del "$C" 2>/dev/null
  ip link del "$VH" 2>/dev/null
  ip link del "$VC" 2>/dev/null
  true
}
trap cleanup EXIT
trap 'exit 3' INT TERM
fail() { echo "FAIL: $*"; echo "--- findings:"; cat "$W/findings.jsonl" 2>/dev/null | head -20; exit 1; }

ip netns add "$H" 2>/dev/null || skip "ip netns add failed (no permission for namespaces here)"
ip netns add "$S" || fail "ip netns add $S"
rm -rf "$W"; mkdir -p "$W"
ip link add "$VH" type veth peer name "$VS" || fail "veth"
ip link set "$VH" netns "$H"; ip link set "$VS" netns "$S"
inH() { ip netns exec "$H" "$@"; }
inS() { ip netns exec "$S" "$@"; }
inH ip link set lo up; inS ip link set lo up
inH ip link set "$VH" address $HMAC; inS ip link set "$VS" address $SMAC
inH ip addr add $HIP/24 dev "$VH"; inS ip addr add $SIP/24 dev "$VS"
inH ip link set "$VH" up; inS ip link set "$VS" up
# The container: its own namespace on a veth into the host, routed and masqueraded by the host.
ip netns add "$C" || fail "ip netns add $C"
ip link add "$VC" type veth peer name "$VCH" || fail "veth (container)"
ip link set "$VC" netns "$C"; ip link set "$VCH" netns "$H"
inC() { ip netns exec "$C" "$@"; }
inC ip link set lo up
inC ip addr add $CIP/24 dev "$VC"; inH ip addr add $CGW/24 dev "$VCH"
inC ip link set "$VC" up; inH ip link set "$VCH" up
inC ip route add default via $CGW
inH sysctl -qw net.ipv4.ip_forward=1 || fail "ip_forward"
# conntrack runs in a namespace only once a rule asks for it; the nat chain is the masquerade.
inH nft -f - <<NFT || fail "nft"
table inet ironroot_test {
  chain in { type filter hook input priority 0; ct state new counter; }
  chain out { type filter hook output priority 0; ct state new counter; }
}
table ip ironroot_nat {
  chain post { type nat hook postrouting priority 100; oifname "$VH" masquerade; }
}
NFT

# Servers on the wire side: HTTP and UDP echo; on the host: an HTTP server others connect to.
ip netns exec "$S" python3 -m http.server 8080 --bind $SIP >/dev/null 2>&1 & pids+=($!)
ip netns exec "$H" python3 -m http.server 8000 --bind $HIP >/dev/null 2>&1 & pids+=($!)
ip netns exec "$S" python3 - $SIP >/dev/null 2>&1 <<'PY' & pids+=($!)
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 5353))
while True:
    d, a = s.recvfrom(2048); s.sendto(d, a)
PY

ip netns exec "$H" "$BIN" sensor host-flows --follow --host h1 --snapshot-ms 1000 \
  --out "$W/host.jsonl" >/dev/null 2>"$W/host-flows.err" & pids+=($!)
for _ in $(seq 50); do [ -s "$W/host.jsonl" ] && break; sleep 0.1; done
[ -s "$W/host.jsonl" ] || fail "host-flows wrote nothing: $(cat "$W/host-flows.err")"
ip netns exec "$S" "$BIN" sensor --interface "$VS" --threads 2 --host "h1=$HMAC,$HIP" \
  --host-flows "$W/host.jsonl" --window-ms 1500 --idle-timeout 5 --max-flows 65536 --json \
  --out "$W/findings.jsonl" >/dev/null 2>"$W/sensor.err" & pids+=($!)
sensor_pid=$!
sleep 1
kill -0 $sensor_pid 2>/dev/null || fail "sensor died: $(cat "$W/sensor.err")"

# Ordinary host traffic: HTTP out, UDP out, TCP to a closed port, HTTP in, and HTTP out of the
# container (masqueraded: on the wire it is the host's).
ordinary() {  # SECONDS
  local end=$(( $(date +%s) + $1 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    inH curl -s -o /dev/null --max-time 2 "http://$SIP:8080/" &
    inC curl -s -o /dev/null --max-time 2 "http://$SIP:8080/" &
    inH python3 -c "
import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
s.sendto(b'ping', ('$SIP', 5353)); s.recv(100)" 2>/dev/null &
    inH curl -s -o /dev/null --max-time 1 "http://$SIP:9/" &
    inS curl -s -o /dev/null --max-time 2 "http://$HIP:8000/" &
    wait_jobs
    sleep 0.2
  done
}
wait_jobs() { for j in $(jobs -p); do case " ${pids[*]} " in *" $j "*) ;; *) wait "$j" 2>/dev/null;; esac; done; }
count_findings() { grep -c '"type":"finding"' "$W/findings.jsonl" 2>/dev/null || true; }

ordinary 5
sleep 3  # the window plus a heartbeat: every ordinary flow judged by now
n=$(count_findings); n=${n:-0}
[ "$n" = 0 ] || fail "ordinary host traffic gave $n findings"
nat=$(grep -c '"nat":' "$W/host.jsonl" || true)
[ "${nat:-0}" -gt 0 ] || fail "the container's connections were not recorded as translated"
echo "ok: ordinary traffic (${nat} conntrack records of masqueraded container connections), no finding"

# The injector: frames from the host's MAC and IP written straight to the link.
cat > "$W/inject.py" <<'PY'
import socket, struct, sys
iface, hmac, smac, hip, dst, sport, dport, flags, payload = sys.argv[1:10]
def mac(m): return bytes.fromhex(m.replace(':', ''))
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
src, dsta = socket.inet_aton(hip), socket.inet_aton(dst)
data = payload.encode() if payload != '-' else b''
if payload == 'tls':  # a TLS 1.2 ClientHello record header and the start of its body
    data = bytes([0x16, 0x03, 0x01, 0x00, 0x30, 0x01, 0x00, 0x00, 0x2c, 0x03, 0x03]) + bytes(43)
fl = {'S': 0x02, 'SA': 0x12, 'PA': 0x18}[flags]
tcp = struct.pack('!HHIIBBHHH', int(sport), int(dport), 1000, 0 if fl == 2 else 5000, 0x50, fl, 65535, 0, 0) + data
tcp = tcp[:16] + struct.pack('!H', csum(src + dsta + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)) + tcp[18:]
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 7, 0x4000, 64, 6, 0, src, dsta)
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
s.send(mac(smac) + mac(hmac) + b'\x08\x00' + ip + tcp)
PY
inject() { inH python3 "$W/inject.py" "$VH" $HMAC $SMAC $HIP "$@" || fail "inject $*"; }
t0=$(date +%s.%N)
inject $SIP 40123 16992 S -                 # the engine opening a connection to an AMT port
inject 198.51.100.7 40124 443 S -           # ... and a TLS connection to an outside peer
inject 198.51.100.7 40124 443 PA tls
inject $SIP 16992 51000 SA -                # ... and answering on the host's own AMT port
want() { grep '"kind":"unaccounted_traffic"' "$W/findings.jsonl" 2>/dev/null | grep -q "$1"; }
found=0
for _ in $(seq 100); do
  if want '"sport":40123,"dport":16992' && want '"dst":"198.51.100.7"' && want '"sport":51000,"dport":16992'; then
    found=1; break
  fi
  sleep 0.1
done
t1=$(date +%s.%N)
[ $found = 1 ] || fail "injected frames gave no finding within 10 s"
latency=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
echo "ok: injected frames -> 3 findings within ${latency}s"
grep '"dst":"198.51.100.7"' "$W/findings.jsonl" | grep -q 'never resolved' || fail "TLS finding lacks the unresolved-peer reason"
amt=$(grep '"dport":16992' "$W/findings.jsonl" | grep unaccounted | head -1 | python3 -c "import json,sys; print(json.load(sys.stdin)['score'])")
[ "${amt:-0}" -ge 90 ] || fail "AMT finding scored ${amt:-none}, expected >= 90"

# Sustained ordinary traffic: every further finding is a false positive.
before=$(count_findings)
flows_before=$(grep -c '"event":"new"' "$W/host.jsonl")
ordinary "$SUSTAIN"
sleep 3
after=$(count_findings)
flows_after=$(grep -c '"event":"new"' "$W/host.jsonl")
fp=$(( after - before ))
echo "sustained run: ${SUSTAIN}s of ordinary traffic, $(( flows_after - flows_before )) host connections, $fp false positives" | tee "$W/false-positives.txt"
[ "$fp" = 0 ] || fail "$fp false positives during the sustained run"
echo "PASS"
