/*
 * Unit tests for lib/instance.c: the instance name of a configuration
 * directory (distinct directories, distinct names; odd characters; too
 * long), the paths with and without PidFile/ControlSocket, and the control
 * request parser with the requests a hostile or broken client sends.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "instance.h"
#include "regress/tap.h"

struct name_case {
	const char	*dir;
	const char	*want;		/* NULL: too long */
};

static const struct name_case name_cases[] = {
	{ SYSCONFDIR, "mmpd" },
	{ "/etc/mmpd-b", "etc-mmpd-b" },
	{ "/srv/mail/mmpd2", "srv-mail-mmpd2" },
	{ "/srv//mail/", "srv-mail" },
	{ "/", "_" },
	{ "", "_" },
	{ "/a b/c\td", "a_b-c_d" },
	{ "/x/../y", "x-..-y" },
	{ "/caf\xc3\xa9", "caf__" },
	{ "/a\nb", "a_b" },
};

static void
test_names(void)
{
	char	name[INSTANCE_NAME_BYTES], dir[200];
	size_t	i;
	int	r;

	for (i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		r = instance_name(name_cases[i].dir, name, sizeof(name));
		tap_ok(r == 0 && strcmp(name, name_cases[i].want) == 0,
		    "name of case %zu is %s (got %s)", i, name_cases[i].want,
		    name);
	}
	/* Exactly the longest name that fits, then one byte more. */
	dir[0] = '/';
	memset(dir + 1, 'a', INSTANCE_NAME_BYTES - 1);
	dir[INSTANCE_NAME_BYTES] = '\0';
	tap_is_int(instance_name(dir, name, sizeof(name)), 0,
	    "a name of %d bytes fits", INSTANCE_NAME_BYTES - 1);
	tap_is_int(strlen(name), INSTANCE_NAME_BYTES - 1, "all of it");
	dir[INSTANCE_NAME_BYTES] = 'a';
	dir[INSTANCE_NAME_BYTES + 1] = '\0';
	tap_is_int(instance_name(dir, name, sizeof(name)), -1,
	    "one byte more is refused, not cut");
	tap_ok(strlen(name) < sizeof(name), "and the name stays terminated");
	tap_is_int(instance_name("/x", name, 1), -1, "no room at all");
}

static void
test_paths(void)
{
	struct mmp_conf	*conf;
	char		 pid[PATH_MAX], sock[CONTROL_PATH_BYTES], err[512];
	char		 dir[300], longsock[200];

	conf = conf_new();
	tap_ok(instance_paths(conf, "/etc/mmpd-b", pid, sizeof(pid), sock,
	    sizeof(sock), err, sizeof(err)) == 0 &&
	    strcmp(pid, RUNDIR "/etc-mmpd-b.pid") == 0 &&
	    strcmp(sock, RUNDIR "/etc-mmpd-b.sock") == 0,
	    "defaults derived from the directory: %s %s", pid, sock);
	tap_ok(conf_set(conf, CONF_GLOBAL, CK_CONTROLSOCKET, "/run/x.sock",
	    "AService.cfg", 3, err, sizeof(err)) == 0 &&
	    conf_set(conf, CONF_GLOBAL, CK_PIDFILE, "/var/run/x.pid",
	    "AService.cfg", 4, err, sizeof(err)) == 0, "keys set");
	tap_ok(instance_paths(conf, "/etc/mmpd-b", pid, sizeof(pid), sock,
	    sizeof(sock), err, sizeof(err)) == 0 &&
	    strcmp(pid, "/var/run/x.pid") == 0 &&
	    strcmp(sock, "/run/x.sock") == 0, "the keys win: %s %s", pid,
	    sock);
	/* A directory too long to name: only both keys set will do. */
	dir[0] = '/';
	memset(dir + 1, 'd', sizeof(dir) - 2);
	dir[sizeof(dir) - 1] = '\0';
	tap_is_int(instance_paths(conf, dir, pid, sizeof(pid), sock,
	    sizeof(sock), err, sizeof(err)), 0,
	    "a long directory with both keys set");
	conf_free(conf);
	conf = conf_new();
	tap_is_int(instance_paths(conf, dir, pid, sizeof(pid), sock,
	    sizeof(sock), err, sizeof(err)), -1,
	    "a long directory without the keys is refused");
	tap_ok(strstr(err, "set PidFile and ControlSocket") != NULL,
	    "saying what to set: %s", err);
	/* A ControlSocket that no sockaddr_un holds. */
	longsock[0] = '/';
	memset(longsock + 1, 's', sizeof(longsock) - 2);
	longsock[sizeof(longsock) - 1] = '\0';
	tap_ok(conf_set(conf, CONF_GLOBAL, CK_CONTROLSOCKET, longsock,
	    "AService.cfg", 3, err, sizeof(err)) == 0, "long socket set");
	tap_is_int(instance_paths(conf, "/etc/mmpd", pid, sizeof(pid), sock,
	    sizeof(sock), err, sizeof(err)), -1,
	    "a ControlSocket over %d bytes is refused", CONTROL_PATH_BYTES - 1);
	tap_ok(strstr(err, "ControlSocket") != NULL, "naming the key: %s",
	    err);
	conf_free(conf);
}

struct req_case {
	const char	*chunks[4];	/* as they arrive; NULL ends */
	int		 want;
	const char	*word;
};

static const struct req_case req_cases[] = {
	{ { "status\n" }, 1, "status" },
	{ { "sta", "tus\n" }, 1, "status" },
	{ { "s", "t", "op", "\n" }, 1, "stop" },
	{ { "reload" }, 0, NULL },
	{ { "\n" }, -1, NULL },
	{ { "Status\n" }, -1, NULL },
	{ { "status \n" }, -1, NULL },
	{ { "status\r\n" }, -1, NULL },
	{ { "status\nstop\n" }, -1, NULL },
	{ { "status\n", "stop\n" }, 1, "status" },
	{ { "st\0p\n" }, -1, NULL },
	{ { "stats\n\n" }, -1, NULL },
	{ { "r\xc3\xa9load\n" }, -1, NULL },
	{ { "abcdefghijklmnopqrstuvwxyzabcde\n" }, 1,
	    "abcdefghijklmnopqrstuvwxyzabcde" },
	{ { "abcdefghijklmnopqrstuvwxyzabcdef\n" }, -1, NULL },
	{ { "abcdefghijklmnop", "qrstuvwxyzabcdef", "\n" }, -1, NULL },
};

static void
test_requests(void)
{
	struct control_request	 cr;
	const struct req_case	*c;
	size_t			 i, j, len;
	int			 r;

	for (i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		c = &req_cases[i];
		memset(&cr, 0, sizeof(cr));
		r = 0;
		for (j = 0; j < 4 && c->chunks[j] != NULL && r == 0; j++) {
			len = strlen(c->chunks[j]);
			/* "st\0p\n": the NUL is a byte of the request. */
			if (i == 10)
				len = 5;
			r = control_request_add(&cr, c->chunks[j], len);
		}
		tap_is_int(r, c->want, "request case %zu", i);
		if (c->word != NULL)
			tap_is_str(r == 1 ? cr.word : "", c->word,
			    "request case %zu word", i);
		tap_ok(cr.len < sizeof(cr.word), "request case %zu in bounds",
		    i);
	}
}

int
main(void)
{
	test_names();
	test_paths();
	test_requests();
	return tap_done();
}
