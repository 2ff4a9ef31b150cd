/* The service workload of bench/bench.py (one exec, so that the benchmark measures
 * rinit rather than shells).
 *
 *   sleeper PATH [NPROC [ignore]]
 *
 * Forks NPROC-1 children (default: none), then creates PATH (unless it is "-"), so
 * that the file exists only once every process does; then all of them sleep until
 * killed. With "ignore", every one of them ignores SIGTERM.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: sleeper PATH [NPROC [ignore]]\n");
        return 2;
    }
    int nproc = argc > 2 ? atoi(argv[2]) : 1;
    if (argc > 3 && strcmp(argv[3], "ignore") == 0)
        signal(SIGTERM, SIG_IGN);
    for (int i = 1; i < nproc; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("sleeper: fork");
            return 1;
        }
        if (pid == 0)
            for (;;)
                pause();
    }
    if (strcmp(argv[1], "-") != 0) {
        int fd = open(argv[1], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            perror(argv[1]);
            return 1;
        }
        close(fd);
    }
    for (;;)
        pause();
}
