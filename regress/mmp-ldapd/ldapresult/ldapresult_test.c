/*
 * What the ldapresult fuzz harness (regress/fuzz/fuzz_ldapresult.c) found
 * in mmp-ldapd, kept as unit tests (issue 18: every finding becomes one):
 *
 * - conn_limit_incoming: a BER header that announces more than
 *   LDAPD_PDU_MAX_BYTES fails the read at once, where libldap would have
 *   allocated what it announces (2 GB for five bytes) and waited for it;
 *   one of exactly the bound is still waited for.
 * - The harness itself, linked here without libFuzzer, replays every seed
 *   of regress/fuzz/corpus/ldapresult, the findings among them (found-*).
 *   Its own checks hold here (one answer per lookup, each reads back); the
 *   leak of a message libldap returns as type 0 is a failure under
 *   valgrind (memcheck.t runs this test) and LeakSanitizer (make
 *   leakcheck), which see every block left at exit.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldap.h>
#include <openldap.h>	/* ldap_init_fd */

#include "mmp-ldapd/ldapd.h"
#include "tap.h"

#define CORPUS		"regress/fuzz/corpus/ldapresult"
#define INPUT_MAX	(64 * 1024)

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * The directory sends the head of a message announcing `announced` bytes
 * (SEQUENCE, four length bytes, then the message id): what ldap_result
 * makes of it at once, -1 for a failed read, 0 for "not complete yet".
 */
static int
head_of(uint32_t announced, int bounded)
{
	uint8_t		 head[] = { 0x30, 0x84, 0, 0, 0, 0, 0x02, 0x01, 0x02 };
	struct timeval	 zero;
	LDAPMessage	*msg = NULL;
	LDAP		*ld = NULL;
	int		 sv[2], rc;

	head[2] = announced >> 24;
	head[3] = announced >> 16;
	head[4] = announced >> 8;
	head[5] = announced;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return -2;
	if (ldap_init_fd(sv[0], LDAP_PROTO_TCP, NULL, &ld) != LDAP_SUCCESS) {
		close(sv[0]);
		close(sv[1]);
		return -2;
	}
	if (bounded)
		conn_limit_incoming(ld);
	if (write(sv[1], head, sizeof(head)) != (ssize_t)sizeof(head))
		rc = -2;
	else {
		zero.tv_sec = zero.tv_usec = 0;
		rc = ldap_result(ld, LDAP_RES_ANY, LDAP_MSG_ONE, &zero, &msg);
		if (msg != NULL)
			ldap_msgfree(msg);
	}
	(void)ldap_unbind_ext(ld, NULL, NULL);	/* closes sv[0] */
	close(sv[1]);
	return rc;
}

static void
test_limit(void)
{
	tap_is_int(head_of(0x7fffffff, 1), -1, "a message announcing 2 GB: "
	    "the read fails at once");
	tap_is_int(head_of(LDAPD_PDU_MAX_BYTES + 1, 1), -1, "one byte over "
	    "LDAPD_PDU_MAX_BYTES: the read fails");
	tap_is_int(head_of(LDAPD_PDU_MAX_BYTES, 1), 0, "exactly "
	    "LDAPD_PDU_MAX_BYTES: waited for");
	tap_is_int(head_of(300, 1), 0, "a small message: waited for");
	/* What the bound is for: without it libldap waits for the 2 GB. */
	tap_is_int(head_of(LDAPD_PDU_MAX_BYTES + 1, 0), 0, "without "
	    "conn_limit_incoming libldap waits for the whole message");
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every seed through the harness, in name order; the findings named. */
static void
test_replay(void)
{
	static uint8_t	 buf[INPUT_MAX];
	char		*names[256], path[512];
	struct dirent	*de;
	DIR		*d;
	FILE		*f;
	size_t		 n = 0, i, len;
	int		 found = 0;

	if ((d = opendir(CORPUS)) == NULL) {
		tap_ok(0, "open %s: %s", CORPUS, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL && n < sizeof(names) /
	    sizeof(names[0]))
		if (de->d_name[0] != '.' &&
		    (names[n] = strdup(de->d_name)) != NULL)
			n++;
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	tap_ok(n >= 2, "%zu seeds in %s", n, CORPUS);
	(void)LLVMFuzzerInitialize(NULL, NULL);
	for (i = 0; i < n; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", CORPUS, names[i]);
		len = 0;
		if ((f = fopen(path, "rb")) != NULL) {
			len = fread(buf, 1, sizeof(buf), f);
			fclose(f);
		}
		if (strncmp(names[i], "found-", 6) == 0)
			found++;
		/* The harness aborts on a lookup unanswered or twice. */
		tap_ok(f != NULL && LLVMFuzzerTestOneInput(buf, len) == 0,
		    "%s (%zu bytes): every lookup answered once", names[i],
		    len);
		free(names[i]);
	}
	tap_ok(found >= 2, "the findings are among them (%d found-*)", found);
}

int
main(void)
{
	test_limit();
	test_replay();
	return tap_done();
}
