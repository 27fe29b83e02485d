/*
 * libFuzzer target for lib/certmap.c and lib/certmapmsg.c. The input is
 * read as a certmap.conf; what parses must survive the round trip through
 * IMSG_CONF_CERTMAP into a fresh set, and each mapping must build a base
 * and filter for a subject made of the input's bytes (split at '|' into
 * fields; '=' is part of a value, never a separator), within the buffers.
 * The input is also read as both payloads.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certmapmsg.h"
#include "config.h"
#include "log.h"

static void
as_imsg(const uint8_t *data, size_t size, struct imsg *imsg)
{
	memset(imsg, 0, sizeof(*imsg));
	imsg->fd = -1;
	imsg->data = (uint8_t *)data;
	imsg->datalen = size;
}

/* Fields of printable bytes, attribute names cycling through a few. */
static size_t
fuzz_subject(const uint8_t *data, size_t size, struct tls_field *f)
{
	static const char	*attrs[] = { "CN", "OU", "O", "emailAddress",
				    "UID", "DC", "1x" };
	size_t			 n = 0, i, len = 0;

	memset(f, 0, sizeof(*f) * TLS_SUBJECT_FIELDS_MAX);
	for (i = 0; i < size && n < TLS_SUBJECT_FIELDS_MAX; i++) {
		if (data[i] == '|' || len == TLS_FIELD_VALUE_BYTES - 1) {
			(void)strlcpy(f[n].attr, attrs[n % 7],
			    sizeof(f[n].attr));
			n++;
			len = 0;
			continue;
		}
		if (data[i] >= 0x20 && data[i] != 0x7f)
			f[n].value[len++] = (char)data[i];
	}
	if (n < TLS_SUBJECT_FIELDS_MAX && len > 0)
		(void)strlcpy(f[n++].attr, "CN", sizeof(f[0].attr));
	return n;
}

static void
check_built(const struct certmap_map *m, const struct tls_field *f, size_t n)
{
	char		 out[4096];
	const char	*why = NULL;
	int		 r;

	r = certmap_base(m, f, n, out, sizeof(out), &why);
	if ((r == -1 && why == NULL) || (r == 1 && strlen(out) >= sizeof(out)))
		abort();
	r = certmap_filter(m, f, n, out, sizeof(out), &why);
	if (r >= 0 && ((size_t)r != strlen(out) || out[0] != '(' ||
	    out[r - 1] != ')'))
		abort();
}

/* Each mapping through the message into a new set, the same. */
static void
check_set(const struct certmap_set *set, const uint8_t *data, size_t size)
{
	struct certmap_set	*again;
	struct certmap_conf	 cc, got;
	struct tls_field	 f[TLS_SUBJECT_FIELDS_MAX];
	struct msg_writer	 w;
	struct imsg		 imsg;
	char			 err[256];
	size_t			 i, n;

	if ((again = certmap_new()) == NULL)
		abort();
	n = fuzz_subject(data, size, f);
	for (i = 0; i < set->n; i++) {
		memset(&cc, 0, sizeof(cc));
		cc.sect = SVC_IMAP;
		cc.map = set->map[i];
		msg_writer_init(&w);
		if (certmap_conf_write(&w, &cc) == -1)
			abort();
		as_imsg(w.buf, w.len, &imsg);
		if (certmap_conf_read(&imsg, &got) == -1 ||
		    memcmp(&got.map, &set->map[i], sizeof(got.map)) != 0 ||
		    certmap_add(again, &got.map, err, sizeof(err)) == -1)
			abort();
		check_built(&set->map[i], f, n);
		if (certmap_choose(set, set->map[i].issuer) !=
		    (i == 0 ? &set->map[0] : &set->map[i]))
			abort();
	}
	certmap_free(again);
}

static void
check_payloads(const uint8_t *data, size_t size)
{
	struct certmap_conf	cc;
	struct certmap_req	rq, again;
	struct msg_writer	w;
	struct imsg		imsg;

	if (size > IMSG_MAX_BYTES)
		return;
	as_imsg(data, size, &imsg);
	(void)certmap_conf_read(&imsg, &cc);
	if (certmap_req_read(&imsg, &rq) == 0) {
		msg_writer_init(&w);
		if (certmap_req_write(&w, &rq) == -1)
			abort();
		as_imsg(w.buf, w.len, &imsg);
		if (certmap_req_read(&imsg, &again) == -1 ||
		    memcmp(&rq, &again, sizeof(rq)) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 quiet;
	struct certmap_set	*set;
	char			 err[512];

	if (!quiet) {
		log_init("fuzz", 1, LOG_CRIT);
		quiet = 1;
	}
	set = certmap_parse((const char *)data, size, "fuzz", err,
	    sizeof(err));
	if (set != NULL) {
		check_set(set, data, size);
		certmap_free(set);
	}
	check_payloads(data, size);
	return 0;
}
