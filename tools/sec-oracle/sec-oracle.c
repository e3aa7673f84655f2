/*
 * sec-oracle: what libbpf itself makes of each program's ELF section name.
 *
 *   sec-oracle OBJECT.bpf.o
 *
 * For every program of the object (libbpf's order) it prints one JSON object a line:
 *   {"section", "program", "type", "attach"}          what bpf_object__open decided, and
 *   "load": {"type", "attach", "flags", "btf_id"}     what bpf_object__load then asked the
 *                                                     kernel for (prog_flags, attach_btf_id),
 *   or "load_error": "..." where libbpf refused to load that program.
 * Each program is loaded alone (autoload off for the others), so one refusal does not hide
 * the rest. Every bpf(2) call is answered by a stand-in (fake_bpf), as in core-oracle: no
 * privileges needed; BTF-attached programs still find their target in the running kernel's
 * /sys/kernel/btf/vmlinux, which libbpf reads as a file.
 *
 * Build: gcc -O1 -Wall -o sec-oracle sec-oracle.c -l:libbpf.a -lelf -lz -ldl
 */
#define _GNU_SOURCE
#include <bpf/libbpf.h>
#include <dlfcn.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FAKE_FD_BASE 1000
static int next_fd = FAKE_FD_BASE;

/*
 * The BPF_PROG_LOAD request for the program being reported. libbpf's own feature probes load
 * programs too; the kernel name (the first 15 bytes of the program's) tells them apart.
 */
static struct {
	const char *name;
	int seen;
	__u32 type, attach, flags, btf_id;
} last;

static long fake_bpf(int cmd, union bpf_attr *attr)
{
	if (cmd == BPF_PROG_LOAD && last.name && strncmp(attr->prog_name, last.name, BPF_OBJ_NAME_LEN - 1) == 0) {
		last.seen = 1;
		last.type = attr->prog_type;
		last.attach = attr->expected_attach_type;
		last.flags = attr->prog_flags;
		last.btf_id = attr->attach_btf_id;
	}
	switch (cmd) {
	case BPF_PROG_LOAD:
	case BPF_MAP_CREATE:
	case BPF_BTF_LOAD:
	case BPF_LINK_CREATE:
	case BPF_RAW_TRACEPOINT_OPEN:
		return next_fd++;
	case BPF_PROG_GET_NEXT_ID:
	case BPF_MAP_GET_NEXT_ID:
	case BPF_BTF_GET_NEXT_ID:
	case BPF_LINK_GET_NEXT_ID:
		/* No kernel module BTF and nothing loaded: the kernel's own BTF is all there is. */
		errno = ENOENT;
		return -1;
	default:
		return 0;
	}
}

/* libbpf reaches the kernel through libc's syscall(): answer bpf(2) here. */
long syscall(long number, ...)
{
	va_list ap;
	long a[6];

	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (number == __NR_bpf)
		return fake_bpf((int)a[0], (union bpf_attr *)a[1]);
	errno = ENOSYS;
	return -1;
}

/*
 * libbpf maps global-data maps (.bss, .data, .rodata) by their fd after creating them; the
 * stand-in's fds are not real files, so their pages come from anonymous memory instead.
 */
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	static void *(*real)(void *, size_t, int, int, int, off_t);

	if (!real)
		real = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
	if (fd >= FAKE_FD_BASE)
		return real(addr, len, prot, (flags & ~MAP_SHARED) | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return real(addr, len, prot, flags, fd, off);
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Opens the object and loads only its program number `which`; prints that program's line. */
static int report(const char *path, int which)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog, *mine = NULL;
	int i = 0, err;

	if (!obj) {
		fprintf(stderr, "%s: libbpf could not open it: %s\n", path, strerror(errno));
		return -1;
	}
	bpf_object__for_each_program(prog, obj) {
		if (i++ == which)
			mine = prog;
		else
			bpf_program__set_autoload(prog, false);
	}
	if (!mine) {
		bpf_object__close(obj);
		return 1;
	}
	printf("{\"section\":");
	json_string(bpf_program__section_name(mine));
	printf(",\"program\":");
	json_string(bpf_program__name(mine));
	printf(",\"type\":%d,\"attach\":%d", (int)bpf_program__type(mine),
	       (int)bpf_program__expected_attach_type(mine));
	last.seen = 0;
	last.name = bpf_program__name(mine);
	err = bpf_object__load(obj);
	if (err || !last.seen) {
		printf(",\"load_error\":");
		json_string(err ? strerror(-err) : "no BPF_PROG_LOAD");
	} else {
		printf(",\"load\":{\"type\":%u,\"attach\":%u,\"flags\":%u,\"btf_id\":%u}", last.type,
		       last.attach, last.flags, last.btf_id);
	}
	printf("}\n");
	last.name = NULL;
	bpf_object__close(obj);
	return 0;
}

int main(int argc, char **argv)
{
	int r, which = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OBJECT.bpf.o\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(quiet);
	while ((r = report(argv[1], which++)) == 0)
		;
	return r < 0 ? 1 : 0;
}
