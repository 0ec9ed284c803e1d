/* Test helper for the memory watchdog: maps a file read-only, touches every page (so the pages
   are resident and count in VmRSS and ru_maxrss as file pages, not anonymous memory), lingers
   long enough for several watchdog polls, and exits 0. Usage: map_file <path> <linger_ms>. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: map_file <path> <linger_ms>\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        perror(argv[1]);
        return 2;
    }
    const volatile unsigned char* p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    unsigned sum = 0;
    for (off_t i = 0; i < st.st_size; i += 4096) sum += p[i];
    const long ms = atol(argv[2]);
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
    printf("touched %lld bytes (sum %u)\n", (long long)st.st_size, sum);
    return 0;
}
