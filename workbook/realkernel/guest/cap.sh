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

# dax_txt: what ls, cat, readlink and ls -l show of the dax devices, drivers, hmem platform
# devices, memory tiers, node masks and modules (dax.txt of CAPTURE_FORMAT.md; dax/kmem runs only).
# $DAXROOT (empty in the guest) lets the host's tests run it on a tree of their own.
dax_txt() {
	R=${DAXROOT:-}
	echo "# ls /sys/bus/dax/devices"
	ls "$R/sys/bus/dax/devices" 2>/dev/null
	for e in "$R"/sys/bus/dax/devices/*; do
		[ -e "$e" ] || continue
		n=${e##*/}
		d=$(readlink -f "$e")
		echo "## device $n sysfs=${d#"$R"}"
		drv=$(readlink "$d/driver" 2>/dev/null)
		echo "driver = ${drv##*/}"
		for f in $(ls "$d"); do
			[ -f "$d/$f" ] && [ "$f" != uevent ] && echo "$f = $(cat "$d/$f" 2>&1)"
		done
		for mp in $(ls "$d"); do
			case $mp in mapping[0-9]*) [ -d "$d/$mp" ] || continue ;; *) continue ;; esac
			for f in end page_offset start; do echo "$mp/$f = $(cat "$d/$mp/$f" 2>&1)"; done
		done
		for f in $(ls "$d/../dax_region" 2>/dev/null); do
			echo "dax_region/$f = $(cat "$d/../dax_region/$f" 2>&1)"
		done
		ls -l "$R/dev/$n" 2>&1
	done
	echo "# dax drivers (bound devices)"
	for drv in "$R"/sys/bus/dax/drivers/*; do
		[ -d "$drv" ] || continue
		printf '%s: ' "${drv##*/}"
		for b in $(ls "$drv"); do case $b in dax*) printf '%s ' "$b" ;; esac; done
		echo
	done
	echo "# platform devices (hmem, e820_pmem, nd)"
	ls "$R/sys/bus/platform/devices" | grep -E 'hmem|e820_pmem|nd'
	echo "# memory tiers"
	for t in "$R"/sys/devices/virtual/memory_tiering/memory_tier*; do
		[ -d "$t" ] && echo "${t##*/} nodelist=$(cat "$t/nodelist")"
	done
	echo "# node masks"
	for k in possible online has_normal_memory has_memory has_cpu; do
		echo "$k = $(cat "$R/sys/devices/system/node/$k")"
	done
	echo "# /proc/modules"
	cat "$R/proc/modules"
}

# cap NAME [START_PFN COUNT]: read everything a capture holds (ohelper cap, reads only; in a dax/kmem
# run, whose modules are in /mod, also dax.txt as one more record), gzip it and send it to the host on
# the second serial port.
cap() {
	ohelper cap $2 $3 > /tmp/cap.rec &&
	if [ -d /mod ]; then
		dax_txt > /tmp/dax.txt 2>&1
		printf 'F %d dax.txt\n' "$(wc -c < /tmp/dax.txt)" >> /tmp/cap.rec
		cat /tmp/dax.txt >> /tmp/cap.rec
		echo >> /tmp/cap.rec
		rm -f /tmp/dax.txt
	fi &&
	gzip -1 -c /tmp/cap.rec > /tmp/cap.gz &&
	ohelper send /tmp/cap.gz /dev/ttyS1 "$1" &&
	rm -f /tmp/cap.rec /tmp/cap.gz &&
	echo "@@CAPTURED $1"
}
