/* The zombie-storm workload of bench/bench.py.
 *
 *   storm N GO_FIFO
 *
 * Run as the only child of the init under test, as PID 1 of a fresh PID namespace
 * (with its own /proc). Prints "ready", waits for one byte on GO_FIFO, then creates N
 * double-forked orphans that _exit(0) at once: the middle child is reaped here with
 * waitpid, so each grandchild is an orphan that only PID 1 can reap. Every 500 forks
 * it counts the zombies in /proc (the backlog). After the last fork it waits until no
 * process is left in the namespace but PID 1 and itself, prints one JSON line and
 * sleeps until killed, so that PID 1's CPU time can still be read from the host.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The number of processes in this namespace other than PID 1 and this one; *zombies
 * gets how many of them are zombies (state Z). */
static int others(int *zombies) {
    DIR *dir = opendir("/proc");
    if (!dir) {
        perror("storm: /proc");
        exit(1);
    }
    pid_t self = getpid();
    int n = 0, z = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1 || pid == self)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue; /* gone meanwhile */
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = 0;
        n++;
        char *p = strrchr(buf, ')'); /* the state follows the last ')': "pid (comm) S ..." */
        if (p && p[1] == ' ' && p[2] == 'Z')
            z++;
    }
    closedir(dir);
    *zombies = z;
    return n;
}

int main(int argc, char **argv) {
    if (argc != 3 || atol(argv[1]) <= 0) {
        fprintf(stderr, "usage: storm N GO_FIFO\n");
        return 2;
    }
    long n = atol(argv[1]);
    printf("ready\n");
    fflush(stdout);

    char go;
    int fd = open(argv[2], O_RDONLY);
    if (fd < 0 || read(fd, &go, 1) != 1) {
        perror("storm: go fifo");
        return 1;
    }
    close(fd);

    int z, max_backlog = 0;
    double t0 = now_ms();
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("storm: fork");
            return 1;
        }
        if (pid == 0)
            _exit(fork() < 0); /* the middle child forks the orphan; both _exit at once */
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
            fprintf(stderr, "storm: middle child failed\n");
            return 1;
        }
        if (i % 500 == 499) {
            others(&z);
            if (z > max_backlog)
                max_backlog = z;
        }
    }
    double t_last = now_ms();

    int left;
    while ((left = others(&z)) > 0) {
        if (z > max_backlog)
            max_backlog = z;
        if (now_ms() - t_last > 60e3) {
            fprintf(stderr, "storm: %d processes still there after 60 s\n", left);
            return 1;
        }
        usleep(100);
    }
    double t_end = now_ms();

    printf("{\"orphans\": %ld, \"fork_ms\": %.3f, \"total_ms\": %.3f, \"lag_ms\": %.3f, "
           "\"max_backlog\": %d}\n",
           n, t_last - t0, t_end - t0, t_end - t_last, max_backlog);
    fflush(stdout);
    for (;;)
        pause();
}
