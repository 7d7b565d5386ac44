/*
 * tsrunc-dmz: the last program the runtime's child becomes before the container's process.
 * It runs from a sealed memfd copy, so while a container process could reach it through
 * /proc/PID/exe (an image whose entrypoint is "#!/proc/self/exe"), there is no host binary
 * behind that link to overwrite (CVE-2019-5736). It only execs its target:
 *   argv = { MARKER, path, argv0, args... }  ->  execve(path, { argv0, args... }, envp)
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MARKER "tsrunc-dmz"

int main(int argc, char **argv, char **envp) {
  if (argc < 3 || strcmp(argv[0], MARKER) != 0) {
    /* Run as an interpreter (#!/proc/self/exe) or by hand: there is nothing to do. */
    fputs("tsrunc-dmz: not a program to run directly\n", stderr);
    return 127;
  }
  execve(argv[1], &argv[2], envp);
  perror("tsrunc-dmz: exec");
  return 127;
}
