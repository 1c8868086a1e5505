/* LD_PRELOAD shim for gphoto2 on a pty: the modem-line ioctls a pty refuses (ENOTTY)
   succeed instead, TIOCMGET reports every line up. Serial reference, section 2. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <termios.h>

int ioctl(int fd, unsigned long request, ...) {
    static int (*real)(int, unsigned long, ...) = 0;
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (!real) real = dlsym(RTLD_NEXT, "ioctl");
    int rc = real(fd, request, arg);
    if (rc == -1 && errno == ENOTTY &&
        (request == TIOCMBIS || request == TIOCMBIC || request == TIOCMSET || request == TIOCMGET)) {
        if (request == TIOCMGET && arg)
            *(int *)arg = TIOCM_DTR | TIOCM_RTS | TIOCM_CTS | TIOCM_DSR | TIOCM_CD;
        errno = 0;
        return 0;
    }
    return rc;
}
