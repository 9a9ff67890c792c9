#ifndef STUNRING_IO_NOTIFY_H
#define STUNRING_IO_NOTIFY_H

/*
 * The service manager's readiness protocol (systemd's sd_notify, done
 * here in a few lines rather than linking libsystemd): one datagram of
 * "NAME=VALUE" lines to the AF_UNIX socket named by $NOTIFY_SOCKET, a path
 * or, starting with '@', an abstract address. Without $NOTIFY_SOCKET it
 * does nothing: a daemon started by hand or by a test is not notified.
 */

/* Sends STATE ("READY=1", "STOPPING=1"). 0 when sent or when there is no
 * $NOTIFY_SOCKET; -errno when it could not be sent (logged once as a
 * warning: the service manager will then time the start out). */
int notify_send(const char *state);

#endif
