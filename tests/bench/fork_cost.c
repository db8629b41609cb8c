/*
 * fork_cost.c - what running each job attempt in a child process costs,
 * measured alone: fork, a pipe, one report line from the child, exit, and
 * the parent's read and waitpid, as cloister-worker does per attempt.
 *
 *   fork_cost [ITERATIONS]      prints microseconds per attempt
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    struct timespec a, b;
    char buf[256];

    if (n < 1)
        n = 2000;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        int fds[2], status;
        pid_t pid;

        if (pipe(fds) < 0)
            return 1;
        pid = fork();
        if (pid == 0) {
            static const char line[] = "{\"type\":\"result\",\"result\":{}}\n";
            close(fds[0]);
            if (write(fds[1], line, sizeof(line) - 1) < 0)
                _exit(1);
            _exit(0);
        }
        close(fds[1]);
        while (read(fds[0], buf, sizeof(buf)) > 0)
            ;
        close(fds[0]);
        waitpid(pid, &status, 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.1f\n", ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / (double)n);
    return 0;
}
