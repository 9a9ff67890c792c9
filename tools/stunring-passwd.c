/*
 * stunring-passwd: prints one line for stunringd's --users file (format
 * in io/users.h), so precomputed keys need no hand-made MD5 sums.
 *
 *   stunring-passwd --realm REALM USER [PASSWORD]   USER:$key$REALM$MD5$SHA256
 *   stunring-passwd --plain USER [PASSWORD]         USER:PASSWORD
 *
 * Without PASSWORD it reads one line from standard input, not echoed when
 * that is a terminal. Bad flags or values exit 2 naming them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "io/main/cli.h"
#include "io/users.h"

static void print_help(void)
{
    printf("usage: stunring-passwd --realm REALM [--plain] USER [PASSWORD]\n\n"
           "Prints a line for stunringd --users FILE (see io/users.h for the format):\n"
           "  USER:$key$REALM$MD5HEX$SHA256HEX  the long-term keys for REALM (RFC 8489 §9.2.2),\n"
           "                                    MD5 and SHA-256 of USER:REALM:PASSWORD\n"
           "  USER:PASSWORD                     with --plain (a leading '$' written '$$')\n\n"
           "  --realm REALM   the server's realm; required unless --plain\n"
           "  --plain         print the plain password line instead of keys\n"
           "  --help          this text\n\n"
           "Without PASSWORD, one line is read from standard input (not echoed on a\n"
           "terminal). A PASSWORD argument is visible to other users in the process list;\n"
           "put -- before one that starts with '-'.\n"
           "Both lines are password-equivalent: keep the users file private (mode 0600).\n"
           "No OpaqueString (RFC 8265) processing: give names as clients will send them.\n");
}

enum flag {
    F_REALM = 256,
    F_PLAIN,
    F_HELP,
};

static const struct option flags[] = {
    {"realm", required_argument, NULL, F_REALM},
    {"plain", no_argument, NULL, F_PLAIN},
    {"help", no_argument, NULL, F_HELP},
    {NULL, 0, NULL, 0},
};

struct options {
    const char *realm;
    bool plain;
    const char *user;
    const char *password; /* NULL: read from stdin */
};

static void parse_flags(int argc, char **argv, struct options *o)
{
    opterr = 0; /* our messages, not getopt's */
    int flag;
    while ((flag = getopt_long(argc, argv, "", flags, NULL)) != -1) {
        switch (flag) {
        case F_REALM:
            o->realm = optarg;
            break;
        case F_PLAIN:
            o->plain = true;
            break;
        case F_HELP:
            print_help();
            exit(0);
        default:
            if (optopt == F_REALM)
                cli_usage_error("%s: missing value", argv[optind - 1]);
            if (optopt >= F_PLAIN)
                cli_usage_error("%s: takes no value", argv[optind - 1]);
            cli_usage_error("unknown flag '%s'", argv[optind - 1]);
        }
    }
    int positional = argc - optind;
    if (positional < 1 || positional > 2)
        cli_usage_error("want USER and at most a PASSWORD, got %d arguments", positional);
    o->user = argv[optind];
    o->password = positional == 2 ? argv[optind + 1] : NULL;
    if (o->realm == NULL && !o->plain)
        cli_usage_error("--realm: required (or --plain)");
}

/* One line of stdin into buf without its line ending; echo off on a terminal. */
static void read_password(char *buf, size_t cap)
{
    struct termios saved, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (tty) {
        fputs("Password: ", stderr);
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    bool got = fgets(buf, (int)cap, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        fputc('\n', stderr);
    }
    if (!got) {
        fprintf(stderr, "%s: no password on standard input\n", cli_program);
        exit(1);
    }
    size_t len = strcspn(buf, "\n");
    if (buf[len] != '\n' && !feof(stdin))
        cli_usage_error("password: longer than %zu bytes", cap - 2);
    buf[len] = '\0';
    if (len > 0 && buf[len - 1] == '\r')
        buf[len - 1] = '\0';
}

int main(int argc, char **argv)
{
    cli_program = "stunring-passwd";
    struct options o = {0};
    parse_flags(argc, argv, &o);

    static char typed[USERS_LINE_MAX + 2]; /* a line, its '\n' and the NUL */
    static char line[USERS_LINE_MAX + 1];
    const char *password = o.password;
    if (password == NULL) {
        read_password(typed, sizeof(typed));
        password = typed;
    }

    const char *why = NULL;
    int n = o.plain ? users_format_plain_line(o.user, password, line, sizeof(line), &why)
                    : users_format_key_line(o.user, o.realm, password, line, sizeof(line), &why);
    explicit_bzero(typed, sizeof(typed));
    if (n == -EINVAL)
        cli_usage_error("%s", why);
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", cli_program, strerror(-n));
        return 1;
    }
    printf("%s\n", line);
    explicit_bzero(line, sizeof(line));
    return fflush(stdout) == 0 ? 0 : 1;
}
