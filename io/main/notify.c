#include "io/main/notify.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/log.h"

/* $NOTIFY_SOCKET as an address: a path ("/run/systemd/notify") or an
 * abstract name ("@name": a leading NUL, no terminator). 0 or -EINVAL. */
static int notify_address(const char *name, struct sockaddr_un *sun, socklen_t *len)
{
    size_t name_len = strlen(name);
    if ((name[0] != '/' && name[0] != '@') || name_len < 2 || name_len >= sizeof(sun->sun_path))
        return -EINVAL;
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, name, name_len);
    if (name[0] == '@')
        sun->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + name_len);
    return 0;
}

static int send_datagram(const struct sockaddr_un *sun, socklen_t len, const char *state)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    ssize_t sent =
        sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)sun, len);
    int err = sent < 0 ? -errno : 0;
    close(fd);
    return err;
}

int notify_send(const char *state)
{
    static bool warned;
    const char *name = getenv("NOTIFY_SOCKET");
    if (name == NULL || name[0] == '\0')
        return 0;
    struct sockaddr_un sun;
    socklen_t len;
    int err = notify_address(name, &sun, &len);
    if (err == 0)
        err = send_datagram(&sun, len, state);
    if (err == 0) {
        log_msg(LOG_DEBUG, "notify: %s sent to %s", state, name);
    } else if (!warned) {
        warned = true;
        log_msg(LOG_WARN, "notify: %s to NOTIFY_SOCKET=%s failed: %s", state, name, strerror(-err));
    }
    return err;
}
