/*
 * mmpd: the parent process. Reads and checks the configuration, opens the
 * logs and listeners, starts the children and then only reacts: SIGHUP
 * reloads, SIGUSR1 reopens the logs, SIGTERM drains, SIGCHLD restarts. With -P relay the same
 * program is a relay worker (relay.c).
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "confmsg.h"
#include "leakcheck.h"
#include "log.h"
#include "parent.h"
#include "relay_main.h"
#include "stats_main.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc/mmpd"
#endif

struct parent		*penv;
static struct parent	 parent_state;

static const char *const parent_log_names[LOG_SVC_MAX] = {
	"AService.log", "ImapProxy.log", "PopProxy.log"
};

static void	usage(void) __attribute__((__noreturn__));
static int	parent_is_child(int, char *[], const char *);
static int	parent_find_self(void);
static void	parent_raise_nofile(void);
static void	parent_cleanup(void);
static void	parent_stdio(void);
static int	parent_check_system(const struct mmp_conf *);
static void	parent_open_logs(const struct mmp_conf *, int);
static void	parent_set_level(const struct mmp_conf *);
static void	parent_notices(const struct mmp_conf *);
static unsigned int parent_workers(const struct mmp_conf *);
static unsigned int parent_tlsds(const struct mmp_conf *);
static int	parent_check_tls(const struct mmp_conf *, char *, size_t);
static void	parent_check_only(struct mmp_conf *, int);
static void	parent_start(struct mmp_conf *);
static void	parent_no_core(void);
static void	parent_events(void);
static void	parent_signal(int, short, void *);
static void	parent_reopen_logs(void);
static void	parent_drain_timeout(int, short, void *);
static void	parent_stop(void);
static void	parent_stop_timeout(int, short, void *);

static void
usage(void)
{
	fprintf(stderr, "usage: mmpd [-dnv] [-f dir] [-P relay | stats]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct mmp_conf	*conf;
	const char	*dir = SYSCONFDIR;
	char		 err[1024];
	int		 ch, check = 0, self_errno;

	leakcheck_start("mmpd");
	if (parent_is_child(argc, argv, "relay"))
		return relay_main(argc, argv);
	if (parent_is_child(argc, argv, "stats"))
		return stats_main(argc, argv);
	parent_no_core();
	penv = &parent_state;
	TAILQ_INIT(&penv->children);
	TAILQ_INIT(&penv->old_listeners);
	self_errno = parent_find_self();
	log_init("mmpd", 1, LOG_NOTICE);

	while ((ch = getopt(argc, argv, "df:nP:v")) != -1) {
		switch (ch) {
		case 'd':
			penv->foreground = 1;
			break;
		case 'f':
			dir = optarg;
			break;
		case 'n':
			check++;
			break;
		case 'v':
			penv->verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (penv->verbose)
		log_set_level(LOG_DEBUG);
	/* -n reports to whoever ran it; a daemon's lines are a log. */
	log_set_plain(check > 0);
	parent_stdio();
	(void)umask(027);

	/* Absolute: the daemon changes to / and reloads from here. */
	if (realpath(dir, penv->dir) == NULL &&
	    strlcpy(penv->dir, dir, sizeof(penv->dir)) >= sizeof(penv->dir))
		fatalx("%s: directory name too long", dir);
	if ((conf = certmapfile_conf_load(penv->dir, err, sizeof(err))) ==
	    NULL)
		fatalx("%s", err);
	/* A check shows its warnings whatever LogLevel says. */
	if (check)
		parent_check_only(conf, check);
	parent_set_level(conf);
	if (self_errno != 0)
		fatalx("cannot find my own program: /proc/self/exe: %s",
		    strerror(self_errno));
	parent_raise_nofile();
	parent_start(conf);
	(void)event_base_dispatch(penv->base);
	parent_cleanup();
	log_notice("mmpd exiting");
	return 0;
}

/*
 * A session holds two sockets and two pipes in its relay worker: the
 * children inherit the hard limit of open files, not the default 1024.
 */
static void
parent_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("raising the limit of open files");
}

/* Our executable, for the relays; 0 or an errno. */
static int
parent_find_self(void)
{
	ssize_t	n;

	/* Before anything can change what /proc/self/exe means to us. */
	n = readlink("/proc/self/exe", penv->self, sizeof(penv->self));
	if (n == -1)
		return errno;
	if (n == 0 || (size_t)n >= sizeof(penv->self))
		return ENAMETOOLONG;
	penv->self[n] = '\0';
	return 0;
}

static void
parent_cleanup(void)
{
	control_cleanup();
	listen_close_all();
	proc_free_all();
	ticket_clear();
	free(penv->listeners);
	free(penv->hosts);
	conf_free(penv->conf);
	event_base_free(penv->base);
}

/* `-P relay` anywhere among the options: this is a relay worker. */
static int
parent_is_child(int argc, char *argv[], const char *role)
{
	char	opt[16];
	int	i;

	(void)snprintf(opt, sizeof(opt), "-P%s", role);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], opt) == 0 ||
		    (strcmp(argv[i], "-P") == 0 && i + 1 < argc &&
		    strcmp(argv[i + 1], role) == 0))
			return 1;
	}
	return 0;
}

/*
 * Fds 0-2 open (on /dev/null if need be), so that no socket of ours ends
 * up as a child's stdin or stderr.
 */
static void
parent_stdio(void)
{
	int	fd;

	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= 2)
		;
	if (fd == -1)
		fatal("/dev/null");
	close(fd);
}

/* "AService.cfg:4" or "default": where a value came from. */
static const char *
parent_origin(const struct mmp_conf *conf, int sect, enum conf_key key,
    char *buf, size_t len)
{
	const struct conf_value	*cv = &conf->v[sect][key];

	if (!cv->isset)
		return "default";
	(void)snprintf(buf, len, "%s:%d", cv->file, cv->line);
	return buf;
}

/* The user a child runs as must exist and must not be root. */
static int
parent_check_user(const struct mmp_conf *conf, enum conf_key key)
{
	const char	*user, *home, *name, *where;
	struct passwd	*pw;
	char		 buf[96];

	user = conf_str(conf, CONF_GLOBAL, key);
	home = conf_str(conf, CONF_GLOBAL, CK_CHROOTDIR);
	name = conf_keyinfo(key)->name;
	/* A key at its default has no file:line: "default" is not in where. */
	where = parent_origin(conf, CONF_GLOBAL, key, buf, sizeof(buf));
	if ((pw = getpwnam(user)) == NULL) {
		log_warnx("%s %s (%s) does not exist: run 'make install' or: "
		    "useradd --system --home-dir %s --shell /usr/sbin/nologin "
		    "%s", name, user, where, home, user);
		return 1;
	}
	if (pw->pw_uid == 0) {
		log_warnx("%s %s (%s) has uid 0: the children must run as an "
		    "unprivileged user of their own", name, user, where);
		return 1;
	}
	return 0;
}

/*
 * ChrootDir, RelayUser, LdapUser, TlsUser (while TLS is used): what the
 * sandbox of each child needs.
 */
static int
parent_check_system(const struct mmp_conf *conf)
{
	const char	*dir, *where;
	struct stat	 st;
	char		 buf[96];
	int		 problems = 0;

	dir = conf_str(conf, CONF_GLOBAL, CK_CHROOTDIR);
	where = parent_origin(conf, CONF_GLOBAL, CK_CHROOTDIR, buf,
	    sizeof(buf));
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_warnx("ChrootDir %s (%s) does not exist: run 'make "
		    "install' or: mkdir -m 755 %s", dir, where, dir);
		problems++;
	} else if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		log_warnx("ChrootDir %s (%s) must belong to root and be "
		    "writable by root only: chown root:root %s && chmod 755 %s",
		    dir, where, dir, dir);
		problems++;
	}
	problems += parent_check_user(conf, CK_RELAYUSER);
	problems += parent_check_user(conf, CK_LDAPUSER);
	if (conf_tls_used(conf))
		problems += parent_check_user(conf, CK_TLSUSER);
	if (conf_isset(conf, CONF_GLOBAL, CK_STATSLISTEN))
		problems += parent_check_user(conf, CK_STATSUSER);
	return problems;
}

/* One LogDir file, or -1 (with a warning naming the key) if none. */
static int
parent_open_log(const struct conf_value *cv, const char *name, int dry)
{
	struct stat	st;
	char		path[PATH_MAX];
	int		fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", cv->str, name) >=
	    sizeof(path)) {
		log_warnx("%s:%d: LogDir %s: path too long", cv->file,
		    cv->line, cv->str);
		return -1;
	}
	if (dry) {
		if (stat(cv->str, &st) == -1 || !S_ISDIR(st.st_mode))
			log_warnx("%s:%d: LogDir %s is not a directory; %s "
			    "will not be written", cv->file, cv->line, cv->str,
			    name);
		return -1;
	}
	/* O_NONBLOCK: a FIFO in its place must not hang the parent. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK, 0640);
	if (fd == -1) {
		log_warnx("%s:%d: LogDir %s: cannot open %s: %s; logging to "
		    "%s only", cv->file, cv->line, cv->str, name,
		    strerror(errno), penv->foreground ? "stderr" : "syslog");
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("%s:%d: %s is not a regular file; not written",
		    cv->file, cv->line, path);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A service's AuditLog: a file opened here (at start and on SIGHUP, like
 * the LogDir files), a syslog facility, or nothing (its own log).
 */
static void
parent_open_audit(const struct mmp_conf *conf, int svc)
{
	static const int	 facs[] = { LOG_AUTH, LOG_AUTHPRIV, LOG_LOCAL0,
	    LOG_LOCAL1, LOG_LOCAL2, LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5,
	    LOG_LOCAL6, LOG_LOCAL7 };
	const struct conf_value	*cv = &conf->v[svc][CK_AUDITLOG];
	struct stat		 st;
	int			 fd, fac;

	if (!conf->enabled[svc] || !cv->isset || cv->str[0] == '\0') {
		log_set_audit(svc, -1, -1);
		return;
	}
	if ((fac = conf_audit_facility(cv->str)) != -1) {
		log_set_audit(svc, -1, facs[fac]);
		return;
	}
	fd = open(cv->str, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY | O_NONBLOCK, 0640);
	if (fd != -1 && (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
		errno = EINVAL;
	}
	if (fd == -1)
		log_warnx("%s:%d: AuditLog %s: cannot open: %s; audit lines "
		    "go to the service's log", cv->file, cv->line, cv->str,
		    strerror(errno));
	log_set_audit(svc, fd, -1);
}

/*
 * Syslog as LogSyslog, SyslogFacility and SyslogSocket say: LogSyslog
 * unset means every line to syslog only when mmpd runs as a daemon (-d
 * writes to stderr, which systemd's journal takes).
 */
static void
parent_set_syslog(const struct mmp_conf *conf)
{
	const struct conf_value	*cv = &conf->v[CONF_GLOBAL][CK_SYSLOGSOCKET];
	const char		*path = conf_str(conf, CONF_GLOBAL,
				    CK_SYSLOGSOCKET);
	struct sockaddr_un	 sun;
	int			 on, fac;

	if (conf_isset(conf, CONF_GLOBAL, CK_LOGSYSLOG))
		on = conf_num(conf, CONF_GLOBAL, CK_LOGSYSLOG) != 0;
	else
		on = !penv->foreground;
	fac = conf_syslog_facility(conf_str(conf, CONF_GLOBAL,
	    CK_SYSLOGFACILITY));
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("%s:%d: SyslogSocket %s: longer than a socket's path "
		    "may be; using %s", cv->file, cv->line, path, _PATH_LOG);
		path = _PATH_LOG;
	}
	log_set_syslog(on, fac != -1 ? fac : LOG_MAIL, path);
}

/*
 * (Re)open the log file of every service that has a LogDir: at start, on
 * SIGHUP and on SIGUSR1 (log rotation's signal). dry: only check.
 */
static void
parent_open_logs(const struct mmp_conf *conf, int dry)
{
	const struct conf_value	*cv;
	int			 svc, fd;

	for (svc = 0; svc < LOG_SVC_MAX; svc++) {
		fd = -1;
		cv = &conf->v[svc][CK_LOGDIR];
		if (conf->enabled[svc] && cv->isset && cv->str[0] != '\0')
			fd = parent_open_log(cv, parent_log_names[svc], dry);
		if (!dry)
			log_set_file(svc, fd);
	}
	if (dry)
		return;
	for (svc = SVC_IMAP; svc <= SVC_POP; svc++)
		parent_open_audit(conf, svc);
	parent_set_syslog(conf);
}

/* Each log (AService, IMAP, POP) at the LogLevel of its own file. */
static void
parent_set_level(const struct mmp_conf *conf)
{
	conf_log_levels(conf, penv->verbose);
}

/*
 * What the configuration asks for that this version does not do, or that
 * cannot work as configured.
 */
static void
parent_notices(const struct mmp_conf *conf)
{
	char	keys[1024];
	int	sect;

	for (sect = 0; sect < CONF_NSECT; sect++) {
		if (!conf->enabled[sect])
			continue;
		if (sect != CONF_GLOBAL &&
		    !conf_isset(conf, sect, CK_STORENETWORKS))
			log_warnx("%s: StoreNetworks is not set: stores are not "
			    "restricted, whatever address mmp-ldapd answers "
			    "gets the users' passwords", conf_section_file(sect));
		if (conf_tls_store(conf, sect) &&
		    !conf_num(conf, sect, CK_SSLSTOREVERIFY))
			log_warnx("%s: SSLStoreVerify no: the stores' "
			    "certificates are not verified, TLS to them is "
			    "encryption without authentication",
			    conf_section_file(sect));
		if (sect != CONF_GLOBAL &&
		    conf_isset(conf, sect, CK_CERTMAPFILE) &&
		    (!conf_isset(conf, sect, CK_STOREADMIN) ||
		    !conf_isset(conf, sect, CK_STOREADMINPASS)))
			log_warnx("%s: CertMapFile is set but StoreAdmin or "
			    "StoreAdminPass is not: certificate logins need "
			    "both, none is offered", conf_section_file(sect));
		conf_later_keys(conf, sect, keys, sizeof(keys));
		if (keys[0] != '\0')
			log_notice("%s: set but not in effect in this version: "
			    "%s", conf_section_file(sect), keys);
	}
}

/* Workers, TLSWorkers: 0 is one per CPU. */
static unsigned int
parent_count(const struct mmp_conf *conf, enum conf_key key, long long max)
{
	long long	n;

	if ((n = conf_num(conf, CONF_GLOBAL, key)) <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > max)
		n = max;
	return (unsigned int)n;
}

static unsigned int
parent_workers(const struct mmp_conf *conf)
{
	return parent_count(conf, CK_WORKERS, RELAYS_MAX);
}

/* None while no service uses TLS. */
static unsigned int
parent_tlsds(const struct mmp_conf *conf)
{
	if (!conf_tls_used(conf))
		return 0;
	return parent_count(conf, CK_TLSWORKERS, TLSDS_MAX);
}

/*
 * What a configuration with TLS needs besides its keys: its files, read
 * and checked now (they are read again for every mmp-tlsd), and the
 * program. 0, or -1 with the reason in err.
 */
static int
parent_check_tls(const struct mmp_conf *conf, char *err, size_t errlen)
{
	if (tlsfiles_check(conf, err, errlen) == -1)
		return -1;
	if (conf_tls_used(conf) && penv->tlsd[0] == '\0' &&
	    proc_find_tlsd(err, errlen) == -1)
		return -1;
	return 0;
}

/* -n: check and exit; -nn: print the configuration too. */
static void
parent_check_only(struct mmp_conf *conf, int check)
{
	struct hostsfile_entry	*hosts;
	size_t			 nhosts;
	char			 err[1024];

	parent_notices(conf);
	if (tlsfiles_check(conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (conf_tls_used(conf) && proc_find_tlsd(err, sizeof(err)) == -1)
		log_warnx("TLS is configured but %s", err);
	(void)parent_check_system(conf);
	parent_open_logs(conf, 1);
	if (hostsfile_load(conf, &hosts, &nhosts) == 0)
		free(hosts);
	if (check > 1)
		conf_dump(conf, stdout);
	else
		fprintf(stderr, "configuration OK\n");
	conf_free(conf);
	exit(fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1);
}

/*
 * No core file of the parent, ever: it holds BindPass, StoreAdminPass and
 * the session ticket keys, and a crash must not write them to disk. (The
 * children set the same in their sandbox.)
 */
static void
parent_no_core(void)
{
	struct rlimit	rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("setrlimit RLIMIT_CORE");
#ifndef MMP_LEAKCHECK	/* LeakSanitizer's ptrace needs it (leakcheck.h) */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE");
#endif
}

/*
 * StatsListen: bound here, once (ports below 1024 need root), and handed
 * to the statistics process, also after each of its restarts.
 */
static void
parent_stats_listen(const struct mmp_conf *conf)
{
	char	err[256];

	penv->stats.fd = -1;
	if (!conf_isset(conf, CONF_GLOBAL, CK_STATSLISTEN))
		return;
	if (conf_listen_parse(conf_str(conf, CONF_GLOBAL, CK_STATSLISTEN),
	    &penv->stats.cl, err, sizeof(err)) == -1)
		fatalx("StatsListen: %s", err);
	if (listen_open(&penv->stats, err, sizeof(err)) == -1)
		fatalx("StatsListen %s", err);
}

/* StatsListen is read at start only: say so when a reload changes it. */
static void
parent_stats_reload(const struct mmp_conf *old, const struct mmp_conf *new)
{
	const char	*o, *n;

	o = conf_isset(old, CONF_GLOBAL, CK_STATSLISTEN) ?
	    conf_str(old, CONF_GLOBAL, CK_STATSLISTEN) : "";
	n = conf_isset(new, CONF_GLOBAL, CK_STATSLISTEN) ?
	    conf_str(new, CONF_GLOBAL, CK_STATSLISTEN) : "";
	if (strcmp(o, n) != 0)
		log_warnx("StatsListen changed; it takes effect when mmpd "
		    "restarts (statistics %s%s until then)",
		    penv->stats.fd != -1 ? "stay on " : "stay off",
		    penv->stats.fd != -1 ? penv->stats.cl.label : "");
}

/* Everything up to the event loop; any failure here is fatal. */
static void
parent_start(struct mmp_conf *conf)
{
	struct listener	*nl;
	size_t		 n;
	char		 err[1024];

	penv->root = geteuid() == 0;
	parent_open_logs(conf, 0);
	parent_notices(conf);
	if (!penv->root)
		log_warnx("not running as root: children are not chrooted "
		    "and keep this user");
	else if (parent_check_system(conf) > 0)
		fatalx("refusing to start as root without the above");
	if (parent_check_tls(conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	proc_find_ldapd();
	penv->conf = conf;
	penv->gen = 1;
	if (hostsfile_load(conf, &penv->hosts, &penv->nhosts) == -1)
		fatalx("out of memory");
	/* Before the listeners: a second start of an instance says so. */
	control_init(conf);
	if (listen_setup(conf, &nl, &n, err, sizeof(err)) == -1) {
		control_cleanup();
		fatalx("%s", err);
	}
	listen_commit(nl, n, penv->gen);
	parent_stats_listen(conf);
	if (!penv->foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init("mmpd", 0, log_get_level());
	}
	parent_events();
	control_start();
	ticket_configure(conf);
	/* The relays' shared state (lib/shm.h): sections handed out by proc.c. */
	if ((penv->shmfd = shm_create()) == -1 ||
	    shm_map(&penv->shm, fcntl(penv->shmfd, F_DUPFD_CLOEXEC, 0),
	    -1) == -1)
		fatal("shared memory");
	proc_start(parent_workers(conf), parent_tlsds(conf));
}

static void
parent_events(void)
{
	static const int	 sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGCHLD,
	    SIGUSR1 };
	size_t			 i;

	if ((penv->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	(void)signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		penv->sigev[i] = evsignal_new(penv->base, sigs[i],
		    parent_signal, NULL);
		if (penv->sigev[i] == NULL ||
		    evsignal_add(penv->sigev[i], NULL) == -1)
			fatalx("cannot handle signal %d", sigs[i]);
	}
	penv->drain_timer = evtimer_new(penv->base, parent_drain_timeout,
	    NULL);
	penv->stop_timer = evtimer_new(penv->base, parent_stop_timeout, NULL);
	if (penv->drain_timer == NULL || penv->stop_timer == NULL)
		fatalx("evtimer_new failed");
}

static void
parent_signal(int sig, short events, void *arg)
{
	char	err[1024];

	(void)events;
	(void)arg;
	switch (sig) {
	case SIGHUP:
		if (penv->draining)
			log_info("SIGHUP while shutting down: ignored");
		else
			(void)parent_reload(err, sizeof(err));
		break;
	case SIGTERM:
	case SIGINT:
		parent_drain(sig);
		break;
	case SIGCHLD:
		proc_reap();
		break;
	case SIGUSR1:
		parent_reopen_logs();
		break;
	}
}

/*
 * SIGUSR1, log rotation's signal: every LogDir and AuditLog file opened
 * again by its name, nothing else. Lines the children sent before it are
 * still in the channels and go to the new files; none is lost.
 */
static void
parent_reopen_logs(void)
{
	parent_open_logs(penv->conf, 0);
	log_notice("log files reopened");
}

/*
 * SIGHUP: the configuration again, all or nothing. Whatever fails leaves
 * the running configuration as it was; the log files are reopened either
 * way, as on SIGUSR1. 0, or -1 with the reason (file:line where there is
 * one) in err, for mmpctl.
 */
int
parent_reload(char *err, size_t errlen)
{
	struct mmp_conf		*conf, *old;
	struct listener		*nl;
	struct hostsfile_entry	*hosts;
	size_t			 n, nhosts;

	log_notice("reloading the configuration from %s", penv->dir);
	if ((conf = certmapfile_conf_load(penv->dir, err, errlen)) ==
	    NULL)
		goto refused;
	if (parent_check_tls(conf, err, errlen) == -1)
		goto refused;
	if (penv->root && parent_check_system(conf) > 0) {
		(void)snprintf(err, errlen, "the sandbox of the children "
		    "is not possible, see above");
		goto refused;
	}
	if (hostsfile_load(conf, &hosts, &nhosts) == -1) {
		(void)snprintf(err, errlen, "out of memory");
		goto refused;
	}
	if (listen_setup(conf, &nl, &n, err, errlen) == -1) {
		free(hosts);
		goto refused;
	}
	old = penv->conf;
	penv->conf = conf;
	penv->gen++;
	free(penv->hosts);
	penv->hosts = hosts;
	penv->nhosts = nhosts;
	listen_commit(nl, n, penv->gen);
	parent_stats_reload(old, conf);
	parent_open_logs(conf, 0);
	parent_set_level(conf);
	parent_notices(conf);
	ticket_configure(conf);
	proc_send_conf_all();
	proc_set_tlsds(parent_tlsds(conf));
	proc_set_relays(parent_workers(conf));
	conf_free(old);
	control_reloaded(conf);
	penv->reloads++;
	log_notice("configuration %u loaded", penv->gen);
	return 0;
 refused:
	log_warnx("reload refused: %s; keeping the running configuration",
	    err);
	conf_free(conf);
	parent_open_logs(penv->conf, 0);
	penv->reloads_refused++;
	return -1;
}

/* SIGTERM, SIGINT, mmpctl stop: stop accepting, let sessions end, exit. */
void
parent_drain(int sig)
{
	struct timeval	tv;
	long long	secs;
	unsigned int	n;

	if (penv->draining) {
		log_notice("SIG%s again: stopping now", sigabbrev_np(sig));
		parent_stop();
		return;
	}
	penv->draining = 1;
	listen_close_all();
	n = proc_drain();
	secs = conf_num(penv->conf, CONF_GLOBAL, CK_DRAINTIMEOUT);
	log_notice("shutting down: %u relays draining %lu sessions, up to "
	    "%lld s", n, proc_sessions(), secs);
	if (n == 0) {
		parent_stop();
		return;
	}
	tv.tv_sec = secs;
	tv.tv_usec = 0;
	if (evtimer_add(penv->drain_timer, &tv) == -1)
		parent_stop();
}

static void
parent_drain_timeout(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	log_notice("drain time over: closing %lu sessions in %u relays",
	    proc_sessions(), proc_count(CHILD_RELAY));
	parent_stop();
}

/* SIGTERM to every child; what is left after the grace time is killed. */
static void
parent_stop(void)
{
	struct timeval	tv = { STOP_GRACE_SEC, 0 };

	if (penv->stopping)
		return;
	penv->stopping = 1;
	(void)evtimer_del(penv->drain_timer);
	if (proc_count(-1) == 0) {
		(void)event_base_loopbreak(penv->base);
		return;
	}
	proc_signal(-1, SIGTERM);
	if (evtimer_add(penv->stop_timer, &tv) == -1) {
		proc_signal(-1, SIGKILL);
		(void)event_base_loopbreak(penv->base);
	}
}

static void
parent_stop_timeout(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	log_warnx("%u processes still running after %d s: killing them",
	    proc_count(-1), STOP_GRACE_SEC);
	proc_signal(-1, SIGKILL);
	(void)event_base_loopbreak(penv->base);
}

/* A child ended (proc.c has logged it): is the shutdown complete? */
void
parent_child_gone(void)
{
	if (!penv->draining)
		return;
	if (!penv->stopping && proc_count(CHILD_RELAY) == 0)
		parent_stop();
	else if (penv->stopping && proc_count(-1) == 0)
		(void)event_base_loopbreak(penv->base);
}

/* A child applied a configuration: old sockets may go, maybe say so. */
void
parent_child_ready(struct child *c)
{
	char		desc[512];
	uint32_t	kept;

	(void)c;
	listen_sweep();
	if (penv->draining || penv->announced >= penv->gen ||
	    !proc_all_ready(penv->gen))
		return;
	if (penv->announced == 0) {
		listen_describe(desc, sizeof(desc));
		log_notice("mmpd ready: %s (%u relay worker%s, %u mmp-tlsd)",
		    desc, penv->nrelays, penv->nrelays == 1 ? "" : "s",
		    penv->ntlsds);
	} else if ((kept = proc_tls_kept(penv->gen)) != 0)
		log_warnx("configuration %u in effect, but for its TLS part: "
		    "mmp-tlsd refused its certificates (see above) and serves "
		    "on with those of configuration %u", penv->gen, kept);
	else
		log_info("configuration %u in effect in every process",
		    penv->gen);
	penv->announced = penv->gen;
}
