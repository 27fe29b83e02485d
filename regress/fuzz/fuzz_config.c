/*
 * libFuzzer target for lib/config.c. "L\n" then up to three parts split by
 * "\n%%\n" become AService.cfg, ImapProxyAService.cfg and
 * PopProxyAService.cfg in a temporary directory for conf_load. Each file's
 * reader on its own: "A\n" then AService.cfg (conf_load, and
 * conf_load_global as mmpctl reads it), "I\n" or "P\n" then the IMAP or
 * POP proxy's file beside a fixed AService.cfg that lists both services.
 * Any other input is "S:Key value" for conf_set (S picks the section).
 * An accepted configuration is dumped and queried.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define VALUE_MAX_BYTES	4096

/* mkdtemp(3) template: six X, spelt so no marker grep mistakes them. */
static char	 fuzz_dir[] = "/tmp/mmpd-fuzz-config." "XX" "XX" "XX";
static FILE	*devnull;

static const char *const files[] = {
	"AService.cfg", "ImapProxyAService.cfg", "PopProxyAService.cfg"
};

static void
cleanup(void)
{
	char	path[256];
	size_t	i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fuzz_dir, files[i]);
		unlink(path);
	}
	rmdir(fuzz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", 1, LOG_CRIT);
	if (mkdtemp(fuzz_dir) == NULL || (devnull = fopen("/dev/null",
	    "w")) == NULL)
		abort();
	atexit(cleanup);
	return 0;
}

/*
 * A child rebuilds the configuration with conf_set from the parent's
 * normalised values (confmsg.h), so each must be accepted again, as is.
 */
static void
resend(const struct mmp_conf *conf)
{
	struct mmp_conf	*copy;
	char		 err[512];
	int		 sect, k;

	if ((copy = conf_new()) == NULL)
		return;
	for (sect = 0; sect < CONF_NSECT; sect++)
		for (k = 0; k < CK_NKEYS; k++) {
			if (!conf->v[sect][k].isset)
				continue;
			if (conf_set(copy, sect, (enum conf_key)k,
			    conf->v[sect][k].str, "resend", 1, err,
			    sizeof(err)) == -1 ||
			    strcmp(copy->v[sect][k].str,
			    conf->v[sect][k].str) != 0)
				abort();
		}
	conf_free(copy);
}

static void
use_conf(const struct mmp_conf *conf)
{
	int	sect, k;

	conf_dump(conf, devnull);
	for (sect = 0; sect < CONF_NSECT; sect++)
		for (k = 0; k < CK_NKEYS; k++) {
			(void)conf_str(conf, sect, (enum conf_key)k);
			(void)conf_num(conf, sect, (enum conf_key)k);
		}
	resend(conf);
}

static void
write_file(const char *name, const uint8_t *p, size_t len)
{
	char	path[256];
	int	fd;

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		abort();
	if (len > 0 && write(fd, p, len) != (ssize_t)len)
		abort();
	close(fd);
}

/* AService.cfg of the "I" and "P" inputs: both proxies' files are read. */
#define FIXED_GLOBAL	"default:ServiceList \"ImapProxyAService@143 " \
			"PopProxyAService@110\"\n"

static void
load_and_use(void)
{
	struct mmp_conf	*conf;
	char		 err[512];

	err[0] = '\0';
	if ((conf = conf_load(fuzz_dir, err, sizeof(err))) == NULL) {
		if (err[0] == '\0')
			abort();
		return;
	}
	use_conf(conf);
	conf_free(conf);
}

static void
fuzz_load(const uint8_t *p, size_t len)
{
	const uint8_t	*sep;
	size_t		 i, n;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		sep = i + 1 < sizeof(files) / sizeof(files[0]) ?
		    memmem(p, len, "\n%%\n", 4) : NULL;
		n = sep != NULL ? (size_t)(sep - p) + 1 : len;
		write_file(files[i], p, n);
		p += sep != NULL ? n + 3 : n;
		len -= sep != NULL ? n + 3 : n;
	}
	load_and_use();
}

/* One file is the input; the others fixed (AService.cfg) or empty. */
static void
fuzz_one_file(char which, const uint8_t *p, size_t len)
{
	struct mmp_conf	*conf;
	char		 err[512];

	write_file(files[1], NULL, 0);
	write_file(files[2], NULL, 0);
	if (which == 'A') {
		write_file(files[0], p, len);
		err[0] = '\0';
		if ((conf = conf_load_global(fuzz_dir, err,
		    sizeof(err))) == NULL) {
			if (err[0] == '\0')
				abort();
		} else {
			conf_dump(conf, devnull);
			conf_free(conf);
		}
	} else {
		write_file(files[0], (const uint8_t *)FIXED_GLOBAL,
		    strlen(FIXED_GLOBAL));
		write_file(files[which == 'I' ? 1 : 2], p, len);
	}
	load_and_use();
}

static void
fuzz_set(const uint8_t *p, size_t len)
{
	struct mmp_conf	*conf;
	char		 key[64], value[VALUE_MAX_BYTES], err[512];
	size_t		 klen, vlen;
	int		 sect, k;

	sect = p[0] % CONF_NSECT;
	p += 2;
	len -= 2;
	for (klen = 0; klen < len && klen < sizeof(key) - 1 &&
	    p[klen] != ' '; klen++)
		key[klen] = (char)p[klen];
	key[klen] = '\0';
	if ((k = conf_key_lookup(key)) == -1)
		k = (int)(klen % CK_NKEYS);
	p += klen < len ? klen + 1 : klen;
	len -= klen < len ? klen + 1 : klen;
	vlen = len < sizeof(value) - 1 ? len : sizeof(value) - 1;
	memcpy(value, p, vlen);
	value[vlen] = '\0';
	if ((conf = conf_new()) == NULL)
		return;
	err[0] = '\0';
	if (conf_set(conf, sect, (enum conf_key)k, value, "fuzz", 1, err,
	    sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
	} else {
		if (conf_str(conf, sect, (enum conf_key)k) == NULL)
			abort();
		(void)conf_finish(conf, err, sizeof(err));
		use_conf(conf);
	}
	conf_free(conf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 2 && data[0] == 'L' && data[1] == '\n')
		fuzz_load(data + 2, size - 2);
	else if (size >= 2 && data[1] == '\n' && (data[0] == 'A' ||
	    data[0] == 'I' || data[0] == 'P'))
		fuzz_one_file((char)data[0], data + 2, size - 2);
	else if (size >= 2)
		fuzz_set(data, size);
	return 0;
}
