/*
 * workload.c - the guest-side load of `memstall lab` (memstall/lab/guest).
 *
 * Runs only inside the throw-away QEMU guest that `memstall lab run` boots;
 * built there with `gcc -static -O2`. Every sub-command writes the latency of
 * each operation it times, one integer of microseconds per line, to LATFILE
 * (a failed operation is written as "fail <us>"), creates DONEFILE when its
 * load is in place, and then holds its memory until killed, so the last
 * snapshot still sees it. DEADLINE_S bounds the timed phase.
 *
 *   workload frag    LATFILE DONEFILE DEADLINE_S NODE ORDER COUNT
 *       Pin to CPU NODE, bind memory to NODE, fill the node with 4 KiB
 *       anonymous pages down to its high watermarks + 8 MiB, free every other
 *       page (order-0 holes everywhere), then make COUNT unmovable kernel
 *       allocations of exactly ORDER (the pipe_buffer array of a pipe resized
 *       with F_SETPIPE_SZ: kcalloc above 8 KiB is a page allocation of order
 *       log2(slots) - 6), timing each: direct compaction and reclaim.
 *   workload thp     LATFILE DONEFILE DEADLINE_S NODE MB
 *       The same fill and punch, then fault MB of MADV_HUGEPAGE memory in
 *       2 MiB steps, timing each fault (THP defrag decides how hard it tries).
 *   workload cache   LATFILE DONEFILE DEADLINE_S DIR MB
 *       Write MB of files under DIR in 1 MiB write() calls (page cache, dirty
 *       writeback throttling), timing each; when MB is reached, create
 *       DONEFILE.filled and rewrite from the first file again, until the
 *       deadline or 4 x MB in all.
 *   workload sockets LATFILE DONEFILE DEADLINE_S PAIRS SIZE
 *       Queue SIZE-byte datagrams on PAIRS AF_UNIX socket pairs until each
 *       send buffer is full, timing each send: with SIZE just under 8 KiB each
 *       skb head is a kmalloc-8k object, whose slabs are order-3 allocations
 *       falling back to order 1 (GFP_KERNEL): an order-1-heavy kernel load.
 */
#include "node_mem.h" /* read_file, node_memfree_kb, bind_node, fill_node, PAGE */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HPAGE (2UL << 20)

static FILE *lat;
static double deadline;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void record(double t0, int ok)
{
	long us = (long)((now() - t0) * 1e6);
	if (ok)
		fprintf(lat, "%ld\n", us);
	else
		fprintf(lat, "fail %ld\n", us);
}

static int past_deadline(void) { return now() > deadline; }

/* Fill the node down to its high watermarks + 8 MiB, then free every other page. */
static void fill_and_punch(int node)
{
	size_t npages;
	char *fill = fill_node(node, 8192, &npages);
	if (!fill)
		exit(1);
	for (size_t i = 1; i < npages; i += 2)
		madvise(fill + i * PAGE, PAGE, MADV_DONTNEED);
	fprintf(stderr, "workload[%d]: filled %zu MB, freed every other page, MemFree %ld kB\n",
		node, npages * PAGE >> 20, node_memfree_kb(node));
}

static void do_frag(int node, int order, long count)
{
	struct rlimit rl = {1 << 16, 1 << 16};
	if (setrlimit(RLIMIT_NOFILE, &rl))
		perror("setrlimit");
	bind_node(node);
	fill_and_punch(node);
	long ok = 0, failed = 0;
	for (long i = 0; i < count && !past_deadline(); i++) {
		int pfd[2];
		if (pipe(pfd)) {
			perror("pipe");
			break;
		}
		double t0 = now();
		int r = fcntl(pfd[0], F_SETPIPE_SZ, 4096L << (order + 6));
		record(t0, r >= 0);
		if (r < 0) {
			failed++;
			close(pfd[0]);
		} else {
			ok++;
		}
		close(pfd[1]); /* the read end keeps the pipe and its array */
	}
	fprintf(stderr, "workload[%d]: order-%d allocations %ld ok, %ld failed\n", node, order, ok, failed);
}

static void do_thp(int node, long mb)
{
	bind_node(node);
	fill_and_punch(node);
	size_t len = (size_t)mb << 20;
	char *raw = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED) {
		perror("mmap thp");
		return;
	}
	char *thp = (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	madvise(thp, len, MADV_HUGEPAGE);
	long faults = 0;
	for (size_t off = 0; off < len && !past_deadline(); off += HPAGE) {
		double t0 = now();
		thp[off] = 1;
		record(t0, 1);
		faults++;
	}
	fprintf(stderr, "workload[%d]: %ld THP-eligible 2 MiB faults\n", node, faults);
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
}

static const char *donefile;

static void do_cache(const char *dir, long mb)
{
	static char chunk[1 << 20];
	memset(chunk, 'm', sizeof chunk);
	long files = (mb + 15) / 16, written = 0;
	for (long round = 0; !past_deadline() && (round == 0 || written < 4 * mb); round++) {
		for (long f = 0; f < files && !past_deadline(); f++) {
			char path[256];
			snprintf(path, sizeof path, "%s/f%04ld", dir, f);
			int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0) {
				perror(path);
				return;
			}
			for (int k = 0; k < 16 && !past_deadline(); k++) {
				double t0 = now();
				ssize_t w = write(fd, chunk, sizeof chunk);
				record(t0, w == (ssize_t)sizeof chunk);
				written++;
			}
			close(fd);
		}
		if (round == 0) { /* the first pass is in: others may start now */
			char filled[512];
			snprintf(filled, sizeof filled, "%s.filled", donefile);
			touch(filled);
		}
	}
	fprintf(stderr, "workload: wrote %ld MiB of files under %s\n", written, dir);
}

static void do_sockets(long pairs, long size)
{
	struct rlimit rl = {1 << 16, 1 << 16};
	if (setrlimit(RLIMIT_NOFILE, &rl))
		perror("setrlimit");
	char *msg = calloc(1, (size_t)size);
	long sent = 0, refused = 0, p;
	for (p = 0; p < pairs && !past_deadline(); p++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv)) {
			perror("socketpair");
			break;
		}
		for (;;) {
			double t0 = now();
			ssize_t r = send(sv[0], msg, (size_t)size, MSG_DONTWAIT);
			if (r < 0 && errno == EAGAIN)
				break; /* send buffer full: next pair */
			record(t0, r == size);
			if (r != size) {
				refused++;
				break;
			}
			sent++;
		}
	}
	fprintf(stderr, "workload: %ld socket pairs, %ld datagrams of %ld bytes queued, %ld failed\n",
		p, sent, size, refused);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: workload frag|thp|cache|sockets LATFILE DONEFILE DEADLINE_S ARGS...\n");
		return 2;
	}
	lat = fopen(argv[2], "w");
	if (!lat) {
		perror(argv[2]);
		return 1;
	}
	setvbuf(lat, NULL, _IOLBF, 0); /* an OOM kill loses no timed operation */
	donefile = argv[3];
	deadline = now() + atof(argv[4]);
	const char *what = argv[1];
	if (!strcmp(what, "frag") && argc == 8)
		do_frag(atoi(argv[5]), atoi(argv[6]), atol(argv[7]));
	else if (!strcmp(what, "thp") && argc == 7)
		do_thp(atoi(argv[5]), atol(argv[6]));
	else if (!strcmp(what, "cache") && argc == 7)
		do_cache(argv[5], atol(argv[6]));
	else if (!strcmp(what, "sockets") && argc == 7)
		do_sockets(atol(argv[5]), atol(argv[6]));
	else {
		fprintf(stderr, "workload: bad arguments for %s\n", what);
		return 2;
	}
	fclose(lat);
	touch(argv[3]);
	for (;;)
		pause(); /* hold everything until the init kills us */
}
