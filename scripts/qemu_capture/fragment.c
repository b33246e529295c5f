/*
 * fragment.c - guest-side helper for scripts/qemu_capture (memstall).
 *
 * Runs inside a throw-away QEMU guest only. Two sub-commands:
 *
 *   fragment hold NODE PATTERN READYFILE [MARGIN_KB [EATORD]]
 *       Pin to CPU NODE, bind memory to NUMA node NODE (set_mempolicy
 *       MPOL_BIND), then:
 *         1. fill: touch 4 KiB pages of a MADV_NOHUGEPAGE mapping until the
 *            node's MemFree drops to (sum of the node's zone "high"
 *            watermarks + MARGIN_KB);
 *         2. punch: MADV_DONTNEED a pattern of pages in the filled range:
 *              alt     free every other page (odd indexes)   -> order-0 holes
 *              3of4    free pages 1,2,3 of every 4             -> order-0/1 holes
 *              15of16  keep 1 page of every 16                  -> order-0..3 holes
 *         3. eat: fault 2 MiB THP chunks (MADV_HUGEPAGE; the caller sets
 *            THP defrag to "never" so no compaction runs) while the node still
 *            has free blocks of order >= 9, so the leftover high-order blocks
 *            that the fill did not reach are consumed too. The THP range is
 *            then set MADV_NOHUGEPAGE so khugepaged leaves it alone;
 *         4. (EATORD >= 4) take every remaining free block of order >=
 *            EATORD in the node's non-DMA zones, largest first, with one
 *            exact-order unmovable kernel allocation each (the pipe_buffer
 *            array of an empty pipe resized with F_SETPIPE_SZ);
 *       then create READYFILE and sleep until killed, holding everything.
 *       With EATORD, step 4 is repeated every 0.2 s while the node has a
 *       free block of order >= EATORD again (blocks come back as per-cpu
 *       lists drain and neighbours merge). On SIGUSR1 steps 3 and 4 run again
 *       and READYFILE.top is created; SIGUSR2 ends the eating for good.
 *
 *   fragment readpair OUTDIR
 *       Read /proc/buddyinfo, extfrag_index, unusable_index, /proc/buddyinfo
 *       back to back into preallocated buffers (retrying up to 50 times until
 *       both buddyinfo reads are identical) and write them to OUTDIR as
 *       buddyinfo_before, extfrag_index, unusable_index, buddyinfo_after,
 *       plus "attempts" (number of tries, and "stable"/"unstable").
 *
 * Build: gcc -static -O2 -I ../../src/memstall/lab/guest -o fragment fragment.c
 * (node_mem.h: the node helpers the lab's workload.c uses too)
 */
#include "node_mem.h" /* memstall/lab/guest: read_file, node_memfree_kb, bind_node, fill_node */
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
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define HPAGE (2UL << 20)

static char buddy_buf[65536];

/* Free blocks per order (0..10) summed over the node's zones, from
 * /proc/buddyinfo; the DMA zone is left out when skip_dma. 0 on success. */
static int node_counts(int node, int skip_dma, long cnt[11])
{
	if (read_file("/proc/buddyinfo", buddy_buf, sizeof buddy_buf) < 0)
		return -1;
	for (int k = 0; k < 11; k++)
		cnt[k] = 0;
	char *line = buddy_buf;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		int n, off = 0;
		char zname[32];
		if (sscanf(line, "Node %d, zone %31s%n", &n, zname, &off) == 2 &&
		    n == node && !(skip_dma && !strcmp(zname, "DMA"))) {
			char *p = line + off;
			for (int k = 0; k < 11; k++) {
				char *end;
				long c = strtol(p, &end, 10);
				if (end == p)
					break;
				p = end;
				cnt[k] += c;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* Number of order-MINORD-sized units in the free blocks of order >= MINORD
 * on a node (all of its zones), from /proc/buddyinfo. */
static long node_units(int node, int minord, int skip_dma)
{
	long cnt[11];
	if (node_counts(node, skip_dma, cnt) < 0)
		return -1;
	long units = 0;
	for (int k = minord; k < 11; k++)
		units += cnt[k] << (k - minord);
	return units;
}

/* Fault 2 MiB THP chunks while the node has free blocks of order >= 9. */
static void eat_thp(int node)
{
	long units = node_units(node, 9, 0);
	long budget = units + 8;
	size_t tcap = (size_t)(budget + 1) * HPAGE;
	char *traw = mmap(NULL, tcap + HPAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (traw == MAP_FAILED) {
		perror("mmap thp");
		return;
	}
	char *thp = (char *)(((uintptr_t)traw + HPAGE - 1) & ~(HPAGE - 1));
	madvise(thp, tcap, MADV_HUGEPAGE);
	long stuck = 0, touched = 0;
	for (long i = 0; i < budget && units > 0 && stuck < 3; i++) {
		thp[i * HPAGE] = 1;
		touched++;
		long u = node_units(node, 9, 0);
		stuck = (u >= units) ? stuck + 1 : 0;
		units = u;
	}
	/* keep khugepaged (which may compact) away from the range */
	madvise(thp, tcap, MADV_NOHUGEPAGE);
	fprintf(stderr, "fragment[%d]: THP touches %ld, order>=9 units left %ld, MemFree %ld kB\n",
		node, touched, units, node_memfree_kb(node));
}

/* Largest order >= minord that has a free block in the node's non-DMA zones
 * (per /proc/buddyinfo), or -1. */
static int largest_free_order(int node, int minord)
{
	long cnt[11];
	if (node_counts(node, 1, cnt) < 0)
		return -1;
	for (int k = 10; k >= minord; k--)
		if (cnt[k] > 0)
			return k;
	return -1;
}

/* Take the node's free blocks of order >= minord (minord >= 4), largest first,
 * one exact-order kernel allocation each: F_SETPIPE_SZ on an empty pipe
 * allocates only its pipe_buffer array, kcalloc(2^j slots, 40 bytes), which
 * above 8 KiB is a plain page allocation of order j - 6 (unmovable). We only
 * ask for order m while a free block of order m exists, so the allocation
 * never enters direct compaction. */
static void eat_pipes(int node, int minord)
{
	long pipes = 0, tries = 0;
	int m;
	while ((m = largest_free_order(node, minord)) >= 0 && tries < 20000) {
		tries++;
		int pfd[2];
		if (pipe(pfd)) {
			perror("pipe");
			break;
		}
		long size = 4096L << (m + 6);
		if (fcntl(pfd[0], F_SETPIPE_SZ, size) < 0) {
			perror("F_SETPIPE_SZ");
			close(pfd[0]);
			close(pfd[1]);
			break;
		}
		close(pfd[1]); /* the read end keeps the pipe and its array */
		pipes++;
	}
	fprintf(stderr, "fragment[%d]: pipe arrays %ld, largest free order >= %d left: %d, MemFree %ld kB\n",
		node, pipes, minord, largest_free_order(node, minord), node_memfree_kb(node));
}

static volatile sig_atomic_t topup_requested;
static void on_usr1(int sig)
{
	(void)sig;
	topup_requested = 1;
}

static volatile sig_atomic_t stop_eating;
static void on_usr2(int sig)
{
	(void)sig;
	stop_eating = 1;
}

static void touch_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
}

static int do_hold(int node, const char *pattern, const char *ready, long margin_kb, int eatord)
{
	bind_node(node);

	int fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1000", 4) < 0)
			perror("oom_score_adj");
		close(fd);
	}
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);

	long high = node_high_pages(node);
	long stop_kb = high * 4 + margin_kb;
	long free0 = node_memfree_kb(node);
	fprintf(stderr, "fragment[%d]: MemFree %ld kB, high wmarks %ld pages, stop at %ld kB\n",
		node, free0, high, stop_kb);

	/* 1. fill */
	size_t npages;
	char *fill = fill_node(node, margin_kb, &npages);
	if (!fill)
		return 1;
	fprintf(stderr, "fragment[%d]: filled %zu pages (%zu MB), MemFree %ld kB\n",
		node, npages, npages * PAGE >> 20, node_memfree_kb(node));

	/* 2. punch */
	size_t freed = 0;
	for (size_t i = 0; i < npages; i++) {
		int drop;
		if (!strcmp(pattern, "alt"))
			drop = (i & 1) == 1;
		else if (!strcmp(pattern, "3of4"))
			drop = (i & 3) != 0;
		else if (!strcmp(pattern, "15of16"))
			drop = (i & 15) != 0;
		else
			drop = 0;
		if (drop) {
			madvise(fill + i * PAGE, PAGE, MADV_DONTNEED);
			freed++;
		}
	}
	fprintf(stderr, "fragment[%d]: pattern %s freed %zu pages, MemFree %ld kB\n",
		node, pattern, freed, node_memfree_kb(node));

	/* 3. + 4. */
	struct rlimit rl = {1 << 16, 1 << 16};
	if (eatord && setrlimit(RLIMIT_NOFILE, &rl))
		perror("setrlimit");
	eat_thp(node);
	if (eatord)
		eat_pipes(node, eatord);
	touch_file(ready);

	/* hold; on SIGUSR1 eat again (blocks freed back since) and touch READYFILE.top */
	char ready2[512];
	snprintf(ready2, sizeof ready2, "%s.top", ready);
	for (;;) {
		if (stop_eating && eatord) {
			fprintf(stderr, "fragment[%d]: SIGUSR2, no more eating\n", node);
			eatord = 0;
		}
		if (eatord) {
			/* keep taking blocks of order >= EATORD that come back (per-cpu
			 * list drains and kernel frees merge into them) */
			usleep(200000);
			if (largest_free_order(node, eatord) >= 0)
				eat_pipes(node, eatord);
		} else {
			pause();
		}
		if (topup_requested) {
			topup_requested = 0;
			eat_thp(node);
			if (eatord)
				eat_pipes(node, eatord);
			touch_file(ready2);
		}
	}
}

#define PAIRBUF (256 * 1024)
static char b1[PAIRBUF], ei[PAIRBUF], ui[PAIRBUF], b2[PAIRBUF];

static int write_out(const char *dir, const char *name, const char *buf, long n)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		return -1;
	}
	long off = 0;
	while (off < n) {
		ssize_t w = write(fd, buf + off, n - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += w;
	}
	close(fd);
	return 0;
}

static int do_readpair(const char *dir)
{
	/* fault the buffers in before the timed reads */
	memset(b1, 0, sizeof b1);
	memset(ei, 0, sizeof ei);
	memset(ui, 0, sizeof ui);
	memset(b2, 0, sizeof b2);
	long n1 = 0, ne = 0, nu = 0, n2 = 0;
	int tries, stable = 0;
	for (tries = 1; tries <= 50; tries++) {
		n1 = read_file("/proc/buddyinfo", b1, PAIRBUF);
		ne = read_file("/sys/kernel/debug/extfrag/extfrag_index", ei, PAIRBUF);
		nu = read_file("/sys/kernel/debug/extfrag/unusable_index", ui, PAIRBUF);
		n2 = read_file("/proc/buddyinfo", b2, PAIRBUF);
		if (n1 >= 0 && n1 == n2 && !memcmp(b1, b2, (size_t)n1)) {
			stable = 1;
			break;
		}
	}
	if (tries > 50)
		tries = 50;
	if (n1 < 0 || ne < 0 || nu < 0 || n2 < 0) {
		fprintf(stderr, "readpair: a read failed\n");
		return 1;
	}
	write_out(dir, "buddyinfo_before", b1, n1);
	write_out(dir, "extfrag_index", ei, ne);
	write_out(dir, "unusable_index", ui, nu);
	write_out(dir, "buddyinfo_after", b2, n2);
	char msg[64];
	int m = snprintf(msg, sizeof msg, "%d %s\n", tries, stable ? "stable" : "unstable");
	write_out(dir, "attempts", msg, m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "hold"))
		return do_hold(atoi(argv[2]), argv[3], argv[4],
			       argc >= 6 ? atol(argv[5]) : 8192,
			       argc >= 7 ? atoi(argv[6]) : 0);
	if (argc == 3 && !strcmp(argv[1], "readpair"))
		return do_readpair(argv[2]);
	fprintf(stderr, "usage: fragment hold NODE PATTERN READYFILE [MARGIN_KB [EATORD]]\n"
			"       fragment readpair OUTDIR\n");
	return 2;
}
