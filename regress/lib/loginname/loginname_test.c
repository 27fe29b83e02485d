/*
 * Unit test for lib/loginname.c: login names taken apart (delimiters,
 * virtual domain, DefaultDomain, empty parts, lengths at and over
 * MMP_USER_BYTES), the canonical name, the default replay name by where
 * the domain came from, and ReplayFormat with its codes and %A[attr].
 */
#include <stdio.h>
#include <string.h>

#include "loginname.h"
#include "regress/tap.h"

static const struct login_rules rules_none = { "@", NULL, NULL, "@" };
static const struct login_rules rules_vd = { "@", "a.test", "def.test",
    "@" };
static const struct login_rules rules_def = { "@", NULL, "def.test", "@" };

/* Splits: name, rules, uid, domain, from, canonical; NULL uid: refused. */
static const struct {
	const char			*name;
	const struct login_rules	*r;
	const char			*uid;
	const char			*domain;
	enum login_domain_from		 from;
	const char			*canon;
} splits[] = {
	{ "joe", &rules_none, "joe", "", LDOM_NONE, "joe" },
	{ "joe", &rules_vd, "joe", "a.test", LDOM_VIRTUAL, "joe@a.test" },
	{ "joe", &rules_def, "joe", "def.test", LDOM_DEFAULT,
	    "joe@def.test" },
	{ "joe@b.test", &rules_vd, "joe", "b.test", LDOM_TYPED,
	    "joe@b.test" },
	{ "joe@x@b.test", &rules_vd, "joe@x", "b.test", LDOM_TYPED,
	    "joe@x@b.test" },
	{ "@b.test", &rules_vd, NULL, NULL, 0, NULL },
	{ "joe@", &rules_vd, NULL, NULL, 0, NULL },
	{ "@", &rules_none, NULL, NULL, 0, NULL },
	{ "", &rules_none, NULL, NULL, 0, NULL },
};

static void
test_split(void)
{
	struct login_name	ln;
	char			err[128];
	size_t			i;
	int			r;

	for (i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
		err[0] = '\0';
		r = login_name_split(splits[i].name, splits[i].r, &ln, err,
		    sizeof(err));
		if (splits[i].uid == NULL) {
			tap_ok(r == -1 && err[0] != '\0', "\"%s\" refused (%s)",
			    splits[i].name, err);
			continue;
		}
		tap_ok(r == 0, "\"%s\" splits", splits[i].name);
		tap_is_str(ln.uid, splits[i].uid, "\"%s\" uid", splits[i].name);
		tap_is_str(ln.domain, splits[i].domain, "\"%s\" domain",
		    splits[i].name);
		tap_is_int(ln.from, splits[i].from, "\"%s\" domain source",
		    splits[i].name);
		tap_is_str(ln.canon, splits[i].canon, "\"%s\" canonical",
		    splits[i].name);
		tap_is_str(ln.orig, splits[i].name, "\"%s\" kept as typed",
		    splits[i].name);
	}
}

/* Several delimiter characters: the last of any of them wins. */
static void
test_delims(void)
{
	struct login_rules	r = { "@%+", NULL, NULL, "!" };
	struct login_name	ln;
	char			err[128];

	tap_ok(login_name_split("a+b%c@d", &r, &ln, err, sizeof(err)) == 0,
	    "three delimiters");
	tap_is_str(ln.uid, "a+b%c", "the last delimiter wins: uid");
	tap_is_str(ln.domain, "d", "the last delimiter wins: domain");
	tap_is_str(ln.canon, "a+b%c!d", "canonical with another delimiter");
	tap_ok(login_name_split("a@b%c", &r, &ln, err, sizeof(err)) == 0 &&
	    strcmp(ln.uid, "a@b") == 0 && strcmp(ln.domain, "c") == 0,
	    "%% after @: %% wins");
	r.delims = "";
	r.vdomain = "v.test";
	tap_ok(login_name_split("a@b", &r, &ln, err, sizeof(err)) == 0 &&
	    strcmp(ln.uid, "a@b") == 0 && ln.from == LDOM_VIRTUAL &&
	    strcmp(ln.canon, "a@b!v.test") == 0,
	    "no delimiter: @ is part of the uid, the virtual domain added");
	r.delims = NULL;
	r.canondelim = NULL;
	tap_ok(login_name_split("x", &r, &ln, err, sizeof(err)) == 0 &&
	    strcmp(ln.canon, "xv.test") == 0, "NULL rules read as empty");
}

static void
test_lengths(void)
{
	char			name[MMP_USER_BYTES + 8], err[128];
	struct login_name	ln;
	struct login_rules	r = { "@", NULL, NULL, "@" };

	memset(name, 'u', MMP_USER_BYTES);
	name[MMP_USER_BYTES] = '\0';
	tap_ok(login_name_split(name, &r, &ln, err, sizeof(err)) == 0,
	    "a name of MMP_USER_BYTES (%d) bytes", MMP_USER_BYTES);
	tap_is_int((long long)strlen(ln.canon), MMP_USER_BYTES,
	    "its canonical name is whole");
	name[MMP_USER_BYTES] = 'u';
	name[MMP_USER_BYTES + 1] = '\0';
	tap_ok(login_name_split(name, &r, &ln, err, sizeof(err)) == -1,
	    "one byte more refused (%s)", err);
	/* Fits alone, not with the virtual domain: refused, never cut. */
	name[MMP_USER_BYTES - 2] = '\0';
	r.vdomain = "a.test";
	tap_ok(login_name_split(name, &r, &ln, err, sizeof(err)) == -1,
	    "name plus virtual domain over MMP_USER_BYTES refused (%s)", err);
	name[MMP_USER_BYTES - 7] = '\0';
	tap_ok(login_name_split(name, &r, &ln, err, sizeof(err)) == 0 &&
	    strlen(ln.canon) == MMP_USER_BYTES,
	    "name plus \"@a.test\" of exactly MMP_USER_BYTES accepted");
}

static void
test_replay_default(void)
{
	struct login_name	ln;
	char			out[LOGIN_NAME_BYTES * 2], err[128];

	(void)login_name_split("joe", &rules_vd, &ln, err, sizeof(err));
	tap_ok(login_name_replay(&ln, "@", out, sizeof(out)) == 0,
	    "replay of a virtual domain's name");
	tap_is_str(out, "joe@a.test", "virtual domain appended to the replay");
	tap_ok(login_name_replay(&ln, "%", out, sizeof(out)) == 0 &&
	    strcmp(out, "joe%a.test") == 0,
	    "with CanonicalVirtualDomainDelim %%");
	(void)login_name_split("joe", &rules_def, &ln, err, sizeof(err));
	tap_ok(login_name_replay(&ln, "@", out, sizeof(out)) == 0,
	    "replay of a DefaultDomain name");
	tap_is_str(out, "joe", "DefaultDomain not replayed");
	(void)login_name_split("joe@b.test", &rules_vd, &ln, err, sizeof(err));
	(void)login_name_replay(&ln, "@", out, sizeof(out));
	tap_is_str(out, "joe@b.test", "a typed domain replayed as typed");
	(void)login_name_split("joe", &rules_none, &ln, err, sizeof(err));
	(void)login_name_replay(&ln, "@", out, sizeof(out));
	tap_is_str(out, "joe", "no domain: as typed");
	(void)login_name_split("joe", &rules_vd, &ln, err, sizeof(err));
	tap_ok(login_name_replay(&ln, "@", out, 8) == -1,
	    "replay that does not fit refused");
}

/* %A[attr] values of a pretend entry. */
static const char *
attrs(void *arg, const char *attr)
{
	(void)arg;
	if (strcmp(attr, "uid") == 0)
		return "joe.u";
	if (strcmp(attr, "mail") == 0)
		return "joe@mail.test";
	if (strcmp(attr, "evil") == 0)
		return "joe\r\nA1 LOGOUT";
	if (strcmp(attr, "long") == 0) {
		static char	l[MMP_USER_BYTES + 2];

		memset(l, 'l', sizeof(l) - 1);
		return l;
	}
	return NULL;
}

/* Formats: format, result (NULL: refused). */
static const struct {
	const char	*fmt;
	const char	*out;
} formats[] = {
	{ "%s", "joe@a.test" },
	{ "%U", "joe" },
	{ "%V", "a.test" },
	{ "%o", "joe" },
	{ "%U%%%V", "joe%a.test" },
	{ "%%", "%" },
	{ "%A[uid]@%V", "joe.u@a.test" },
	{ "x-%A[mail]", "x-joe@mail.test" },
	{ "%A[missing]", NULL },
	{ "%A[evil]", NULL },
	{ "%A[long]", NULL },
	{ "%A", NULL },
	{ "%A[]", NULL },
	{ "%A[uid", NULL },
	{ "%A[u d]", NULL },
	{ "%X", NULL },
	{ "%", NULL },
	{ "abc%", NULL },
	{ "", NULL },
	{ "a\rb", NULL },
};

static void
test_replay_format(void)
{
	struct login_name	ln;
	char			out[LOGIN_NAME_BYTES * 2], err[128];
	size_t			i;
	int			r, c;

	(void)login_name_split("joe", &rules_vd, &ln, err, sizeof(err));
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		err[0] = '\0';
		r = login_replay_expand(formats[i].fmt, &ln, attrs, NULL, out,
		    sizeof(out), err, sizeof(err));
		if (formats[i].out == NULL) {
			tap_ok(r == -1 && out[0] == '\0' && err[0] != '\0',
			    "format \"%s\" refused (%s)", formats[i].fmt, err);
			continue;
		}
		tap_ok(r == (int)strlen(formats[i].out), "format \"%s\" "
		    "expands", formats[i].fmt);
		tap_is_str(out, formats[i].out, "format \"%s\"",
		    formats[i].fmt);
	}
	tap_ok(login_replay_expand("%A[uid]", &ln, NULL, NULL, out,
	    sizeof(out), err, sizeof(err)) == -1, "%%A without an entry");
	/* The checker agrees with the expansion on what is a format. */
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		c = login_replay_check(formats[i].fmt, err, sizeof(err));
		r = strstr(formats[i].fmt, "%A[") != NULL &&
		    strchr(formats[i].fmt, ']') != NULL &&
		    strchr(formats[i].fmt, ' ') == NULL &&
		    strstr(formats[i].fmt, "[]") == NULL;
		if (formats[i].out != NULL || r)
			tap_ok(c == 0, "check accepts \"%s\"", formats[i].fmt);
		else if (strchr(formats[i].fmt, '\r') == NULL)
			tap_ok(c == -1, "check refuses \"%s\" (%s)",
			    formats[i].fmt, err);
	}
}

int
main(void)
{
	test_split();
	test_delims();
	test_lengths();
	test_replay_default();
	test_replay_format();
	return tap_done();
}
