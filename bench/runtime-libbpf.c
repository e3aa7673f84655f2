// The libbpf side of bench/runtime.bench.ts, built by it with gcc against Debian's static
// libbpf 1.1. Two measurements, timed inside the process (no process start-up in them):
//
//   runtime-libbpf load OBJECT RUNS
//       RUNS × (open + load + attach every program + close); prints one JSON array of
//       [wall ms, CPU ms, wall ms, CPU ms] per run: the whole, then up to attached (no close).
//   runtime-libbpf ringbuf OBJECT ROUNDS CALLS
//       ringbench.bpf.o: per round, CALLS getppid() calls fill the ring (64 samples each),
//       then ring_buffer__consume() drains it with a callback that decodes every sample;
//       after one untimed round, prints {"rounds": [[ms, events, cpu ms], ...]} (wall time,
//       and this process's CPU time).
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_WARN) return vfprintf(stderr, fmt, args);
	return 0;
}

/* Wall and CPU ms at which the last load_once had everything attached. */
static double attached_ms, attached_cpu;

static int load_once(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj) return -1;
	int err = bpf_object__load(obj);
	struct bpf_link *links[256];
	int n = 0;
	struct bpf_program *prog;
	if (!err) {
		bpf_object__for_each_program(prog, obj) {
			struct bpf_link *l = bpf_program__attach(prog);
			if (!l) { err = -1; break; }
			if (n < 256) links[n++] = l;
		}
	}
	attached_ms = now_ms();
	attached_cpu = cpu_ms();
	for (int i = 0; i < n; i++) bpf_link__destroy(links[i]);
	bpf_object__close(obj);
	return err;
}

struct sample {
	uint64_t seq;
	uint32_t pid;
	uint32_t index;
	uint64_t ts;
	char comm[16];
};

struct decoded {
	uint64_t seq, ts;
	uint32_t pid, index;
	char comm[17];
};

static uint64_t checksum;
static uint64_t received;
// Decoded samples land here, a global the compiler must assume is read later, so no field
// copy below can be optimized away: the callback really touches every field, as the
// JavaScript consumer's decoding does.
#define SINK 256
struct decoded sink[SINK];

// Decode as a consumer would: copy every field out into the application's own struct.
static int on_sample(void *ctx, void *data, size_t size)
{
	struct decoded *d = &sink[received % SINK];
	const struct sample *s = data;
	(void)ctx;
	if (size < sizeof(*s)) return 0;
	d->seq = s->seq;
	d->ts = s->ts;
	d->pid = s->pid;
	d->index = s->index;
	memcpy(d->comm, s->comm, 16);
	d->comm[16] = 0;
	checksum += d->seq + d->ts + d->pid + d->index + (unsigned char)d->comm[0];
	received++;
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(quiet);
	if (argc == 4 && !strcmp(argv[1], "load")) {
		int runs = atoi(argv[3]);
		printf("[");
		for (int i = 0; i < runs; i++) {
			double c0 = cpu_ms();
			double t0 = now_ms();
			if (load_once(argv[2])) { fprintf(stderr, "load failed\n"); return 1; }
			double ms = now_ms() - t0;
			printf("%s[%.3f,%.3f,%.3f,%.3f]", i ? "," : "", ms, cpu_ms() - c0, attached_ms - t0,
			       attached_cpu - c0);
		}
		printf("]\n");
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "ringbuf")) {
		int rounds = atoi(argv[3]), calls = atoi(argv[4]);
		struct bpf_object *obj = bpf_object__open_file(argv[2], NULL);
		if (!obj) return 1;
		struct bpf_map *rodata = bpf_object__find_map_by_name(obj, ".rodata");
		size_t sz;
		uint32_t *target = (uint32_t *)bpf_map__initial_value(rodata, &sz);
		*target = getpid();
		if (bpf_object__load(obj)) return 1;
		struct bpf_program *prog = bpf_object__find_program_by_name(obj, "burst");
		struct bpf_link *link = bpf_program__attach(prog);
		if (!link) return 1;
		struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "samples")), on_sample, NULL, NULL);
		if (!rb) return 1;
		// One untimed round first (warms caches and the ring's pages, as on the JS side),
		// then per round the ms and the events consumed.
		printf("{\"rounds\": [");
		for (int r = 0; r <= rounds; r++) {
			for (int i = 0; i < calls; i++) syscall(SYS_getppid);
			uint64_t before = received;
			double c0 = cpu_ms();
			double t0 = now_ms();
			ring_buffer__consume(rb);
			double ms = now_ms() - t0;
			double cpu = cpu_ms() - c0;
			if (r > 0) printf("%s[%.3f, %llu, %.3f]", r > 1 ? ", " : "", ms, (unsigned long long)(received - before), cpu);
		}
		printf("], \"checksum\": %llu}\n", (unsigned long long)checksum);
		ring_buffer__free(rb);
		bpf_link__destroy(link);
		bpf_object__close(obj);
		return 0;
	}
	fprintf(stderr, "usage: %s load OBJECT RUNS | ringbuf OBJECT ROUNDS CALLS\n", argv[0]);
	return 2;
}
