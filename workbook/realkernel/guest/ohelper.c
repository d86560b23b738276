/*
 * ohelper: the guest-side helper of `memhotplug-workbook capture` (built with gcc -static).
 *
 *   ohelper bind NODES CPU CMD...   run CMD bound with set_mempolicy(MPOL_BIND, NODES), pinned to CPU
 *   ohelper wr PATH VALUE           one write(2) of VALUE (no newline) to PATH; prints
 *                                   "@@WR path=.. value=.. rc=N errno=E (strerror)"; exit 0 on success
 *   ohelper stress NODE PCT         mmap PCT % of node NODE's MemFree (anonymous, private), touch
 *                                   every 4 KiB page, print "@@STRESS_READY ...", sleep until killed
 *   ohelper pin NODE MIB            fill MIB pipes of 1 MiB each (64 KiB writes): unmovable pipe
 *                                   buffer pages; print "@@PIN_READY ...", sleep until killed
 *   ohelper cap [START COUNT]       write one capture (procfs, the sysfs memory/node tree, the
 *                                   kernel log, and the kpageflags/kpagecount words of pfns
 *                                   START..START+COUNT-1) as records to stdout
 *   ohelper send FILE DEV NAME      write FILE to the serial port DEV (raw mode) framed as
 *                                   "@@BEGIN NAME LEN\n" DATA "\n@@END NAME\n", then wait until sent
 *
 * A record of `cap` is "F <len> <name>\n<len bytes>\n" (a file) or "L <len> <name>\n<target>\n"
 * (a symbolic link); the host unpacks them into the capture folder's files.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MPOL_BIND 2
#define PAGE 4096UL

static int usage(void)
{
	fprintf(stderr, "usage: ohelper bind|wr|stress|pin|cap|send ...\n");
	return 2;
}

/* ---- bind --------------------------------------------------------------------------------- */

static int parse_nodes(const char *s, unsigned long *mask)
{
	char *end;
	*mask = 0;
	while (*s) {
		long a = strtol(s, &end, 10), b = a;
		if (end == s || a < 0 || a >= 64)
			return -1;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a || b >= 64)
				return -1;
		}
		for (long i = a; i <= b; i++)
			*mask |= 1UL << i;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return 0;
}

static int cmd_bind(int argc, char **argv)
{
	unsigned long mask;
	cpu_set_t cpus;
	if (argc < 4 || parse_nodes(argv[1], &mask))
		return usage();
	if (syscall(SYS_set_mempolicy, MPOL_BIND, &mask, 64UL) != 0) {
		perror("ohelper bind: set_mempolicy");
		return 1;
	}
	CPU_ZERO(&cpus);
	CPU_SET(atoi(argv[2]), &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus) != 0) {
		perror("ohelper bind: sched_setaffinity");
		return 1;
	}
	execvp(argv[3], argv + 3);
	perror("ohelper bind: exec");
	return 127;
}

/* ---- wr ----------------------------------------------------------------------------------- */

static int cmd_wr(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	const char *path = argv[1], *value = argv[2];
	int fd = open(path, O_WRONLY);
	if (fd < 0) {
		int e = errno;
		printf("@@WR path=%s value=%s rc=-1 errno=%d (%s) [open]\n", path, value, e, strerror(e));
		return 1;
	}
	ssize_t rc = write(fd, value, strlen(value));
	int e = rc < 0 ? errno : 0;
	if (e)
		printf("@@WR path=%s value=%s rc=%zd errno=%d (%s)\n", path, value, rc, e, strerror(e));
	else
		printf("@@WR path=%s value=%s rc=%zd errno=0\n", path, value, rc);
	close(fd);
	return e ? 1 : 0;
}

/* ---- stress and pin ----------------------------------------------------------------------- */

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static void sleep_until_killed(void)
{
	signal(SIGTERM, on_term);
	while (!stop)
		pause();
}

static long node_memfree_kb(int node)
{
	char path[96], line[256];
	long kb = -1;
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "MemFree:");
		if (p) {
			kb = strtol(p + 8, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

static int cmd_stress(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	int node = atoi(argv[1]), pct = atoi(argv[2]);
	long kb = node_memfree_kb(node);
	if (kb < 0) {
		fprintf(stderr, "ohelper stress: no MemFree for node %d\n", node);
		return 1;
	}
	unsigned long bytes = (unsigned long)kb * 1024 / 100 * pct;
	bytes &= ~(PAGE - 1);
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("ohelper stress: mmap");
		return 1;
	}
	for (unsigned long off = 0; off < bytes; off += PAGE)
		p[off] = 1;
	printf("@@STRESS_READY node=%d node_memfree_before_kb=%ld allocated_bytes=%lu pct=%d\n", node, kb, bytes, pct);
	fflush(stdout);
	sleep_until_killed();
	return 0;
}

static int cmd_pin(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	int node = atoi(argv[1]), mib = atoi(argv[2]), pipes = 0;
	static char chunk[65536];
	unsigned long total = 0;
	memset(chunk, 0x5a, sizeof(chunk));
	for (int i = 0; i < mib; i++) {
		int fds[2];
		if (pipe(fds) != 0) {
			perror("ohelper pin: pipe");
			break;
		}
		if (fcntl(fds[1], F_SETPIPE_SZ, 1 << 20) < 0) {
			perror("ohelper pin: F_SETPIPE_SZ");
			break;
		}
		fcntl(fds[1], F_SETFL, O_NONBLOCK);
		unsigned long in_pipe = 0;
		while (in_pipe < (1UL << 20)) {
			ssize_t w = write(fds[1], chunk, sizeof(chunk));
			if (w <= 0)
				break;
			in_pipe += (unsigned long)w;
		}
		total += in_pipe;
		pipes++;
	}
	printf("@@PIN_READY node=%d pipes=%d bytes=%lu\n", node, pipes, total);
	fflush(stdout);
	sleep_until_killed();
	return 0;
}

/* ---- cap ---------------------------------------------------------------------------------- */

static void emit(const char *kind, const char *name, const char *data, size_t len)
{
	printf("%s %zu %s\n", kind, len, name);
	fwrite(data, 1, len, stdout);
	putchar('\n');
}

/* Read a whole (proc or sys) file; returns a malloc'ed buffer or NULL. */
static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (n == cap)
			buf = realloc(buf, cap *= 2);
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
}

static void emit_file(const char *path, const char *name)
{
	size_t len;
	char *buf = slurp(path, &len);
	if (buf) {
		emit("F", name, buf, len);
		free(buf);
	}
}

static void emit_link(const char *path, const char *name)
{
	char target[512];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n > 0)
		emit("L", name, target, (size_t)n);
}

static int numbered(const struct dirent *d, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(d->d_name, prefix, n) || !d->d_name[n])
		return 0;
	for (const char *p = d->d_name + n; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

static int is_memory(const struct dirent *d) { return numbered(d, "memory"); }
static int is_node(const struct dirent *d) { return numbered(d, "node"); }

static void emit_tree(void)
{
	static const char *mem_attrs[] = {"state", "online", "phys_index", "phys_device", "removable", "valid_zones"};
	static const char *node_top[] = {"possible", "online", "has_normal_memory", "has_memory", "has_cpu",
					 "has_generic_initiator"};
	static const char *node_attrs[] = {"meminfo", "numastat", "cpulist", "distance", "vmstat"};
	char path[1024];
	struct dirent **ents, **sub;
	int n, m;

	emit_file("/sys/devices/system/memory/block_size_bytes", "sys/devices/system/memory/block_size_bytes");
	emit_file("/sys/devices/system/memory/auto_online_blocks", "sys/devices/system/memory/auto_online_blocks");
	n = scandir("/sys/devices/system/memory", &ents, is_memory, versionsort);
	for (int i = 0; i < n; i++) {
		for (size_t a = 0; a < sizeof(mem_attrs) / sizeof(*mem_attrs); a++) {
			snprintf(path, sizeof(path), "/sys/devices/system/memory/%s/%s", ents[i]->d_name, mem_attrs[a]);
			emit_file(path, path + 1);
		}
		snprintf(path, sizeof(path), "/sys/devices/system/memory/%s", ents[i]->d_name);
		m = scandir(path, &sub, is_node, versionsort);
		for (int j = 0; j < m; j++) {
			snprintf(path, sizeof(path), "/sys/devices/system/memory/%s/%s", ents[i]->d_name, sub[j]->d_name);
			emit_link(path, path + 1);
			free(sub[j]);
		}
		if (m > 0)
			free(sub);
		free(ents[i]);
	}
	if (n > 0)
		free(ents);
	for (size_t a = 0; a < sizeof(node_top) / sizeof(*node_top); a++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/%s", node_top[a]);
		emit_file(path, path + 1);
	}
	n = scandir("/sys/devices/system/node", &ents, is_node, versionsort);
	for (int i = 0; i < n; i++) {
		for (size_t a = 0; a < sizeof(node_attrs) / sizeof(*node_attrs); a++) {
			snprintf(path, sizeof(path), "/sys/devices/system/node/%s/%s", ents[i]->d_name, node_attrs[a]);
			emit_file(path, path + 1);
		}
		snprintf(path, sizeof(path), "/sys/devices/system/node/%s", ents[i]->d_name);
		m = scandir(path, &sub, is_memory, versionsort);
		for (int j = 0; j < m; j++) {
			snprintf(path, sizeof(path), "/sys/devices/system/node/%s/%s", ents[i]->d_name, sub[j]->d_name);
			emit_link(path, path + 1);
			free(sub[j]);
		}
		if (m > 0)
			free(sub);
		free(ents[i]);
	}
	if (n > 0)
		free(ents);
}

static void emit_node_meminfo(void)
{
	struct dirent **ents;
	char path[1024], name[300];
	int n = scandir("/sys/devices/system/node", &ents, is_node, versionsort);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/%s/meminfo", ents[i]->d_name);
		snprintf(name, sizeof(name), "%s.meminfo", ents[i]->d_name);
		emit_file(path, name);
		free(ents[i]);
	}
	if (n > 0)
		free(ents);
}

static void emit_params(void)
{
	const char *dir = "/sys/module/memory_hotplug/parameters";
	struct dirent **ents;
	char path[1024];
	int n = scandir(dir, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
			emit_file(path, path + 1);
		}
		free(ents[i]);
	}
	if (n > 0)
		free(ents);
}

/* The kernel log as busybox dmesg prints it: the "<level>" prefix of each line dropped. */
static void emit_dmesg(void)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	if (size <= 0)
		size = 1 << 20;
	char *buf = malloc((size_t)size), *out = malloc((size_t)size);
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	size_t o = 0;
	int bol = 1;
	for (int i = 0; i < n; i++) {
		if (bol && buf[i] == '<') {
			int j = i + 1;
			while (j < n && buf[j] >= '0' && buf[j] <= '9')
				j++;
			if (j < n && buf[j] == '>' && j > i + 1) {
				i = j;
				bol = 0;
				continue;
			}
		}
		out[o++] = buf[i];
		bol = buf[i] == '\n';
	}
	emit("F", "dmesg", out, o);
	free(buf);
	free(out);
}

/* pfns START..START+COUNT-1 of /proc/kpageflags and /proc/kpagecount (8 bytes each). */
static void emit_kpf(unsigned long start, unsigned long count)
{
	static const char *files[] = {"/proc/kpageflags", "/proc/kpagecount"};
	static const char *names[] = {"range.kpageflags", "range.kpagecount"};
	char log[1024] = "";
	size_t loglen = 0;
	for (int k = 0; k < 2; k++) {
		size_t want = count * 8, got = 0;
		char *buf = malloc(want ? want : 1);
		int fd = open(files[k], O_RDONLY);
		if (fd < 0) {
			loglen += snprintf(log + loglen, sizeof(log) - loglen, "kpf open %s: %s\n", files[k],
					   strerror(errno));
		} else {
			while (got < want) {
				ssize_t r = pread(fd, buf + got, want - got, (off_t)(start * 8 + got));
				if (r < 0) {
					loglen += snprintf(log + loglen, sizeof(log) - loglen, "kpf pread %s at %lu: %s\n",
							   files[k], start * 8 + got, strerror(errno));
					break;
				}
				if (r == 0) {
					loglen += snprintf(log + loglen, sizeof(log) - loglen, "kpf pread %s at %lu: EOF\n",
							   files[k], start * 8 + got);
					break;
				}
				got += (size_t)r;
			}
			close(fd);
		}
		emit("F", names[k], buf, got);
		free(buf);
	}
	if (loglen)
		emit("F", "kpf.log", log, loglen);
}

static int cmd_cap(int argc, char **argv)
{
	static const char *proc[] = {"zoneinfo", "meminfo", "vmstat", "buddyinfo", "pagetypeinfo", "iomem", "cmdline"};
	char path[64], stamp[32];
	struct utsname u;
	/* the time first: "guest date +%s when the capture started" */
	int n = snprintf(stamp, sizeof(stamp), "%ld\n", (long)time(NULL));
	emit("F", "guest_time", stamp, (size_t)n);
	for (size_t i = 0; i < sizeof(proc) / sizeof(*proc); i++) {
		snprintf(path, sizeof(path), "/proc/%s", proc[i]);
		emit_file(path, proc[i]);
	}
	emit_node_meminfo();
	emit_tree();
	emit_params();
	uname(&u);
	n = snprintf(path, sizeof(path), "%s\n", u.release);
	emit("F", "uname_r", path, (size_t)n);
	emit_dmesg();
	if (argc == 3)
		emit_kpf(strtoul(argv[1], NULL, 10), strtoul(argv[2], NULL, 10));
	fflush(stdout);
	return 0;
}

/* ---- send --------------------------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int cmd_send(int argc, char **argv)
{
	if (argc != 4)
		return usage();
	size_t len;
	char *data = slurp(argv[1], &len), head[256];
	if (!data) {
		perror("ohelper send: read");
		return 1;
	}
	int fd = open(argv[2], O_WRONLY | O_NOCTTY);
	if (fd < 0) {
		perror("ohelper send: open");
		return 1;
	}
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		cfsetospeed(&t, B115200);
		tcsetattr(fd, TCSANOW, &t);
	}
	int n = snprintf(head, sizeof(head), "\n@@BEGIN %s %zu\n", argv[3], len);
	int rc = write_all(fd, head, (size_t)n) || write_all(fd, data, len);
	n = snprintf(head, sizeof(head), "\n@@END %s\n", argv[3]);
	rc = rc || write_all(fd, head, (size_t)n);
	tcdrain(fd);
	close(fd);
	free(data);
	if (rc)
		perror("ohelper send: write");
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *c = argv[1];
	argc--, argv++;
	if (!strcmp(c, "bind"))
		return cmd_bind(argc, argv);
	if (!strcmp(c, "wr"))
		return cmd_wr(argc, argv);
	if (!strcmp(c, "stress"))
		return cmd_stress(argc, argv);
	if (!strcmp(c, "pin"))
		return cmd_pin(argc, argv);
	if (!strcmp(c, "cap"))
		return cmd_cap(argc, argv);
	if (!strcmp(c, "send"))
		return cmd_send(argc, argv);
	return usage();
}
