// Runs a command and prints, on the last line of stderr, its wall time, user and system CPU
// time (milliseconds, from wait4's rusage: microsecond resolution, where GNU time's %U/%S
// are in hundredths of a second, too coarse for a 20 ms bpftool run) and peak RSS (KiB):
//   rusage [-o FILE] CMD ARGS...    ->   "rusage <wall ms> <user ms> <sys ms> <maxrss KiB>"
// stdout goes to FILE when given (truncated), else is inherited. Exit status: the command's
// (128 + signal when killed). Built by bench/lib.ts with gcc.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double ms(struct timeval tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; }

int main(int argc, char **argv) {
  int first = 1;
  const char *out = NULL;
  if (argc > 2 && strcmp(argv[1], "-o") == 0) {
    out = argv[2];
    first = 3;
  }
  if (first >= argc) {
    fprintf(stderr, "usage: rusage [-o FILE] CMD ARGS...\n");
    return 2;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 2;
  }
  if (pid == 0) {
    if (out) {
      int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || dup2(fd, 1) < 0) {
        perror(out);
        _exit(127);
      }
      close(fd);
    }
    execvp(argv[first], argv + first);
    perror(argv[first]);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("wait4");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double wall = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
  fprintf(stderr, "rusage %.3f %.3f %.3f %ld\n", wall, ms(ru.ru_utime), ms(ru.ru_stime), ru.ru_maxrss);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
