#!/usr/bin/env bash
# run.sh - the kernel-shim's tests under QEMU (TCG).
#
#   run.sh QEMU KERNEL KSHIM_HOST OUTDIR
#
# 1. `-append selftest`: in-kernel checks; exit status 33 (code 0x10).
# 2. `-append fault=K`: each deliberate exception must end in the IDT
#    handler's exit, status 129 + 2 * vector (a triple fault would be 0).
# 3. kshim_host against e1000 (CPU qemu64) and e1000e (CPU max): control
#    protocol and data path.
# Every QEMU run is under `timeout`; on failure the serial log is printed.
set -u
QEMU=$1 KERNEL=$2 HOST=$3 OUT=$4
mkdir -p "$OUT"
fails=0

boot() { # NAME APPEND EXPECTED-STATUS
	local name=$1 append=$2 want=$3 log="$OUT/$1.log"
	timeout 20 "$QEMU" -accel tcg -cpu max -m 128M -display none -nodefaults \
		-no-reboot -serial "file:$log" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-kernel "$KERNEL" -append "$append" </dev/null
	local got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL $name: exit status $got, expected $want"
		echo "---- $log ----"; cat "$log"; echo "----"
		fails=$((fails + 1))
	else
		echo "ok   $name (status $got)"
	fi
}

boot selftest selftest 33
boot fault-ud fault=ud 141   # vector 6
boot fault-de fault=de 129   # vector 0
boot fault-gp fault=gp 155   # vector 13
boot fault-null fault=null 157 # vector 14
boot fault-wx fault=wx 157   # write to the JIT's executable view
boot fault-nx fault=nx 157   # execute from the JIT's writable view
boot fault-stack fault=stack 145 # overflow into the guard page: #DF (8)

# e1000 on QEMU's default CPU (no RDRAND), e1000e on `max` (RDRAND)
for run in "e1000 qemu64" "e1000e max"; do
	set -- $run
	if timeout 60 "$HOST" "$QEMU" "$KERNEL" "$1" "$2"; then
		echo "ok   host-$1 (cpu $2)"
	else
		echo "FAIL host-$1 (cpu $2)"
		fails=$((fails + 1))
	fi
done

[ "$fails" -eq 0 ] && echo "kshim: all passed" || echo "kshim: $fails failed"
[ "$fails" -eq 0 ]
