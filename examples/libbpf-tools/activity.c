// The activity the libbpf-tools e2e test traces with both the C tools and our ports. It waits
// for a line on stdin (so that the tools can be started with its pid first), then:
//   activity open DIR N      opens DIR/present N times and DIR/missing-<i> N times (ENOENT)
//   activity syscalls N      calls getppid() N times and getuid() N/2 times
//   activity exits           forks children named btfkx-<i> that exit with codes 0, 3 and 7
//   activity naps N          calls btfkit_nap(1 ms) N times and btfkit_nap(4 ms) N/2 times
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The function funclatency times through a uprobe on this executable. */
__attribute__((noinline)) void btfkit_nap(long usec)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = usec * 1000 };
	nanosleep(&ts, NULL);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	char line[16];
	if (argc < 2 || !fgets(line, sizeof(line), stdin)) return 2;
	if (!strcmp(argv[1], "open") && argc == 4) {
		int n = atoi(argv[3]);
		char path[4096];
		for (int i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/present", argv[2]);
			int fd = open(path, O_RDONLY);
			if (fd >= 0) close(fd);
			snprintf(path, sizeof(path), "%s/missing-%d", argv[2], i);
			fd = open(path, O_RDONLY);
			if (fd >= 0) close(fd);
		}
	} else if (!strcmp(argv[1], "syscalls") && argc == 3) {
		int n = atoi(argv[2]);
		for (int i = 0; i < n; i++) syscall(SYS_getppid);
		for (int i = 0; i < n / 2; i++) syscall(SYS_getuid);
	} else if (!strcmp(argv[1], "exits")) {
		int codes[] = { 0, 3, 7 };
		for (int i = 0; i < 3; i++) {
			pid_t pid = fork();
			if (pid == 0) {
				char name[16];
				snprintf(name, sizeof(name), "btfkx-%d", i);
				prctl(PR_SET_NAME, name);
				_exit(codes[i]);
			}
			waitpid(pid, NULL, 0);
		}
	} else if (!strcmp(argv[1], "naps") && argc == 3) {
		int n = atoi(argv[2]);
		for (int i = 0; i < n; i++) btfkit_nap(1000);
		for (int i = 0; i < n / 2; i++) btfkit_nap(4000);
	} else {
		return 2;
	}
	return 0;
}
