/*
 * The parent's HostsFile: a hosts(5) file read as root at start and on
 * reload, sent to mmp-ldapd, which consults it before DNS (it cannot read
 * files in its chroot).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "parent.h"

/* A name as hosts(5) has them: letters, digits, '-', '.', '_'. */
static int
hostsfile_name_ok(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len >= HOST_NAME_BYTES || s[0] == '-' || s[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '.' && s[i] != '_')
			return 0;
	return 1;
}

/* Next blank-separated word of *sp, or NULL. */
static char *
hostsfile_word(char **sp)
{
	char	*w;

	while ((w = strsep(sp, " \t\r\n")) != NULL && *w == '\0')
		;
	return w;
}

struct hostsfile_table {
	struct hostsfile_entry	*e;
	size_t			 n;
	size_t			 cap;
};

/* One line: 0 taken or blank, -1 invalid (why says how), -2 no memory. */
static int
hostsfile_line(char *line, struct hostsfile_table *t, const char **why)
{
	struct hostsfile_entry	*ne;
	unsigned char		 bin[sizeof(struct in6_addr)];
	char			 addr[INET6_ADDRSTRLEN], *p, *w;
	size_t			 first = t->n;
	int			 af;

	if ((p = strchr(line, '#')) != NULL)
		*p = '\0';
	p = line;
	if ((w = hostsfile_word(&p)) == NULL)
		return 0;
	af = strchr(w, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(af, w, bin) != 1 ||
	    inet_ntop(af, bin, addr, sizeof(addr)) == NULL) {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	while ((w = hostsfile_word(&p)) != NULL) {
		if (!hostsfile_name_ok(w)) {
			t->n = first;
			*why = "invalid host name";
			return -1;
		}
		if (t->n == t->cap) {
			ne = reallocarray(t->e, t->cap + 64, sizeof(*ne));
			if (ne == NULL)
				return -2;
			t->e = ne;
			t->cap += 64;
		}
		(void)strlcpy(t->e[t->n].name, w, sizeof(t->e[t->n].name));
		(void)strlcpy(t->e[t->n].addr, addr, sizeof(t->e[t->n].addr));
		t->n++;
	}
	if (t->n == first) {
		*why = "address without a name";
		return -1;
	}
	return 0;
}

static FILE *
hostsfile_open(const char *path)
{
	struct stat	 st;
	FILE		*fp;
	int		 fd;

	/* O_NONBLOCK: a FIFO in its place must not hang the parent. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY))
	    == -1) {
		log_warn("HostsFile %s: cannot open, no static hosts", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (fp = fdopen(fd, "r")) == NULL) {
		log_warnx("HostsFile %s: not a readable file, no static hosts",
		    path);
		close(fd);
		return NULL;
	}
	return fp;
}

/*
 * The HostsFile (hosts(5): address, then names) as the name-address pairs
 * mmp-ldapd consults before DNS. Bad lines are skipped with a warning; a
 * file that cannot be read gives an empty table. -1 only without memory.
 */
int
hostsfile_load(const struct mmp_conf *conf, struct hostsfile_entry **out,
    size_t *nout)
{
	struct hostsfile_table	 t = { NULL, 0, 0 };
	const char		*path, *why = NULL;
	char			 line[HOSTS_LINE_BYTES];
	FILE			*fp;
	int			 lineno = 0, r = 0, skipping = 0;

	path = conf_str(conf, CONF_GLOBAL, CK_HOSTSFILE);
	if (path == NULL || path[0] == '\0' ||
	    (fp = hostsfile_open(path)) == NULL)
		goto done;
	while (r != -2 && fgets(line, sizeof(line), fp) != NULL) {
		if (skipping) {
			skipping = strchr(line, '\n') == NULL;
			continue;
		}
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			log_warnx("%s:%d: line too long, skipped", path,
			    lineno);
			skipping = 1;
			continue;
		}
		if ((r = hostsfile_line(line, &t, &why)) == -1)
			log_warnx("%s:%d: %s, line skipped", path, lineno, why);
		if (t.n >= HOSTS_MAX) {
			log_warnx("%s:%d: more than %d names, the rest is "
			    "ignored", path, lineno, HOSTS_MAX);
			t.n = HOSTS_MAX;
			break;
		}
	}
	fclose(fp);
 done:
	if (r == -2) {
		log_warnx("HostsFile %s: out of memory", path);
		free(t.e);
		return -1;
	}
	*out = t.e;
	*nout = t.n;
	return 0;
}
