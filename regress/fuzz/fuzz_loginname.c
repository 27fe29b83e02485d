/*
 * libFuzzer target for lib/loginname.c. The input is "DELIMS\nVDOMAIN\n
 * DEFDOMAIN\nCANON\nFORMAT\nNAME": the name is taken apart by those rules,
 * its replay name built, and the format checked and expanded with %A[attr]
 * values taken from the name itself. Whatever comes out must be within
 * MMP_USER_BYTES and free of CR, LF and NUL.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loginname.h"

#define FIELDS	6

/* %A[attr]: the name as its own attribute value; "nul" is refused. */
static const char *
attrfn(void *arg, const char *attr)
{
	if (strcmp(attr, "nul") == 0)
		return NULL;
	return arg;
}

static void
check_out(const char *out, int len)
{
	if (len < 1 || len > MMP_USER_BYTES || (size_t)len != strlen(out) ||
	    strpbrk(out, "\r\n") != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char			*buf, *f[FIELDS], *p, *nl;
	char			 out[LOGIN_NAME_BYTES * 2], err[256];
	struct login_rules	 r;
	struct login_name	 ln;
	int			 i, n, c;

	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (p = buf, i = 0; i < FIELDS; i++) {
		f[i] = p;
		if (i + 1 < FIELDS && (nl = strchr(p, '\n')) != NULL) {
			*nl = '\0';
			p = nl + 1;
		} else if (i + 1 < FIELDS)
			p = p + strlen(p);
	}
	r.delims = f[0];
	r.vdomain = f[1];
	r.defdomain = f[2];
	r.canondelim = f[3];
	if (login_name_split(f[5], &r, &ln, err, sizeof(err)) == 0) {
		if (strlen(ln.canon) > MMP_USER_BYTES || ln.uid[0] == '\0')
			abort();
		if (login_name_replay(&ln, r.canondelim, out, sizeof(out)) ==
		    0 && strlen(out) > MMP_USER_BYTES)
			abort();
		c = login_replay_check(f[4], err, sizeof(err));
		n = login_replay_expand(f[4], &ln, attrfn, f[5], out,
		    sizeof(out), err, sizeof(err));
		if (n >= 0)
			check_out(out, n);
		else if (out[0] != '\0')
			abort();
		/* What expands was a format the checker accepts. */
		if (n >= 0 && c == -1)
			abort();
	}
	free(buf);
	return 0;
}
