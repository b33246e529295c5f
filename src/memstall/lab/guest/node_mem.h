/*
 * node_mem.h - one NUMA node's memory from inside a throw-away guest: shared by
 * memstall/lab/guest/workload.c (the lab's helper) and scripts/qemu_capture/fragment.c
 * (the fixture generator), both static single-file builds (gcc -static -O2).
 *
 *   read_file       a whole (small) /proc or /sys file into buf, NUL-terminated
 *   node_memfree_kb MemFree of /sys/devices/system/node/nodeN/meminfo
 *   node_high_pages the node's zone "high" watermarks summed, from /proc/zoneinfo
 *   bind_node       pin to CPU NODE and bind memory to node NODE (MPOL_BIND)
 *   fill_node       touch 4 KiB anonymous pages (MADV_NOHUGEPAGE) until the node's
 *                   MemFree drops to its high watermarks + MARGIN_KB
 */
#ifndef MEMSTALL_NODE_MEM_H
#define MEMSTALL_NODE_MEM_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096UL
#define MPOL_BIND_ 2

static long read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n >= cap - 1)
			break;
	}
	close(fd);
	buf[n] = 0;
	return (long)n;
}

static char node_mem_buf[1 << 20];

static long node_memfree_kb(int node)
{
	char path[128];
	snprintf(path, sizeof path, "/sys/devices/system/node/node%d/meminfo", node);
	if (read_file(path, node_mem_buf, sizeof node_mem_buf) < 0)
		return -1;
	char *p = strstr(node_mem_buf, "MemFree:");
	return p ? strtol(p + 8, NULL, 10) : -1;
}

/* Sum of the "high" watermark (pages) over the zones of a node. */
static long node_high_pages(int node)
{
	if (read_file("/proc/zoneinfo", node_mem_buf, sizeof node_mem_buf) < 0)
		return -1;
	long sum = 0, v;
	int cur = -1, n;
	char zname[32];
	for (char *line = node_mem_buf; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (sscanf(line, "Node %d, zone %31s", &n, zname) == 2)
			cur = n;
		else if (cur == node && sscanf(line, " high %ld", &v) == 1)
			sum += v;
		line = nl ? nl + 1 : NULL;
	}
	return sum;
}

static void bind_node(int node)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(node, &set);
	if (sched_setaffinity(0, sizeof set, &set))
		perror("sched_setaffinity");
	unsigned long mask = 1UL << node;
	if (syscall(SYS_set_mempolicy, MPOL_BIND_, &mask, 8 * sizeof mask + 1))
		perror("set_mempolicy");
}

/* Fill the node with 4 KiB pages down to its high watermarks + margin_kb; returns
 * the mapping (NULL when mmap failed) and the pages touched in *npages. */
static char *fill_node(int node, long margin_kb, size_t *npages)
{
	long stop_kb = node_high_pages(node) * 4 + margin_kb;
	long free0 = node_memfree_kb(node);
	size_t cap = (size_t)(free0 > 0 ? free0 : 1 << 20) * 1024;
	char *fill = mmap(NULL, cap, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	*npages = 0;
	if (fill == MAP_FAILED) {
		perror("mmap fill");
		return NULL;
	}
	madvise(fill, cap, MADV_NOHUGEPAGE);
	for (size_t n = 0;; n++) {
		if ((n & 255) == 0) {
			long f = node_memfree_kb(node);
			if (f >= 0 && f <= stop_kb)
				break;
		}
		if ((n + 1) * PAGE > cap)
			break;
		fill[n * PAGE] = (char)(n | 1);
		*npages = n + 1;
	}
	return fill;
}

#endif
