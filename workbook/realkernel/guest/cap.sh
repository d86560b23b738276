# Sourced by the control shell (". /cap.sh"): the capture and wait functions.
M=/sys/devices/system/memory

# waitfor TEST: evaluate the shell test TEST every 0.2 s until it holds (rc 0) or $WAIT seconds
# (default 60) have passed (rc 1).
waitfor() {
	n=$(( ${WAIT:-60} * 5 ))
	while ! eval "$1" 2>/dev/null; do
		[ "$n" -le 0 ] && return 1
		n=$((n - 1))
		sleep 0.2
	done
	return 0
}

# cap NAME [START_PFN COUNT]: read everything a capture holds (ohelper cap, reads only), gzip it
# and send it to the host on the second serial port.
cap() {
	ohelper cap $2 $3 > /tmp/cap.rec &&
	gzip -1 -c /tmp/cap.rec > /tmp/cap.gz &&
	ohelper send /tmp/cap.gz /dev/ttyS1 "$1" &&
	rm -f /tmp/cap.rec /tmp/cap.gz &&
	echo "@@CAPTURED $1"
}
