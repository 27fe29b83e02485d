/*
 * A verified client certificate's names for the relay: the subject's
 * attributes as parsed fields, in certificate order (certmap matches
 * them; a ',' or '/' inside a value stays inside it), and the subject and
 * issuer as RFC 4514 text for the log and %D. A certificate whose names
 * cannot be passed on whole is refused, never passed on in part.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "tlsd.h"

/* No C0 control character, no DEL, no NUL inside. */
static int
subject_clean(const unsigned char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/*
 * RFC 4514 text of a name (OpenSSL escapes control characters and bytes
 * over 0x7f). -1 if it does not fit: buf then holds a cut, still clean.
 */
int
subject_text(X509_NAME *name, char *buf, size_t len)
{
	BIO	*bio;
	char	*p;
	long	 n;
	int	 r = 0;

	buf[0] = '\0';
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return -1;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0)
		r = -1;
	n = BIO_get_mem_data(bio, &p);
	if (n < 0 || !subject_clean((unsigned char *)p, n))
		r = -1;
	else {
		if ((size_t)n >= len) {
			n = len - 1;
			r = -1;
		}
		memcpy(buf, p, n);
		buf[n] = '\0';
	}
	BIO_free(bio);
	return r;
}

/* One RDN attribute; the reason in why when it cannot be passed on. */
static int
subject_field(X509_NAME_ENTRY *e, struct tls_field *f, char *why,
    size_t whylen)
{
	ASN1_OBJECT	*obj = X509_NAME_ENTRY_get_object(e);
	const char	*sn = NULL;
	unsigned char	*utf;
	int		 nid, n;

	if ((nid = OBJ_obj2nid(obj)) != NID_undef)
		sn = OBJ_nid2sn(nid);
	if (sn != NULL)
		n = (int)strlcpy(f->attr, sn, sizeof(f->attr));
	else
		n = OBJ_obj2txt(f->attr, sizeof(f->attr), obj, 1);
	if (n <= 0 || (size_t)n >= sizeof(f->attr)) {
		(void)snprintf(why, whylen, "an attribute name is too long");
		return -1;
	}
	if ((n = ASN1_STRING_to_UTF8(&utf,
	    X509_NAME_ENTRY_get_data(e))) < 0) {
		(void)snprintf(why, whylen, "%s: value not convertible to "
		    "UTF-8", f->attr);
		return -1;
	}
	if ((size_t)n >= sizeof(f->value) || !subject_clean(utf, n)) {
		(void)snprintf(why, whylen, "%s: value %s", f->attr,
		    (size_t)n >= sizeof(f->value) ? "too long" :
		    "with a control character");
		OPENSSL_free(utf);
		return -1;
	}
	memcpy(f->value, utf, n);
	f->value[n] = '\0';
	OPENSSL_free(utf);
	return 0;
}

static int
subject_fields(X509_NAME *name, struct tls_result *res, char *why,
    size_t whylen)
{
	int	i, n = X509_NAME_entry_count(name);

	if (n <= 0) {
		(void)snprintf(why, whylen, "empty subject");
		return -1;
	}
	if (n > TLS_SUBJECT_FIELDS_MAX) {
		(void)snprintf(why, whylen, "%d subject attributes, more than "
		    "%d", n, TLS_SUBJECT_FIELDS_MAX);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (subject_field(X509_NAME_get_entry(name, i),
		    &res->field[i], why, whylen) == -1)
			return -1;
	res->nfields = n;
	return 0;
}

/* A VERIFIED result gets its names, or becomes REFUSED with why. */
void
subject_fill(X509 *x, struct tls_result *res)
{
	char	why[128], subj[256];

	if (subject_fields(X509_get_subject_name(x), res, why,
	    sizeof(why)) == 0) {
		if (subject_text(X509_get_subject_name(x), res->subject,
		    sizeof(res->subject)) == 0 &&
		    subject_text(X509_get_issuer_name(x), res->issuer,
		    sizeof(res->issuer)) == 0)
			return;
		(void)snprintf(why, sizeof(why), "subject or issuer too long");
	}
	res->cert = TLS_CERT_REFUSED;
	res->nfields = 0;
	memset(res->field, 0, sizeof(res->field));
	res->subject[0] = res->issuer[0] = '\0';
	(void)subject_text(X509_get_subject_name(x), subj, sizeof(subj));
	(void)snprintf(res->detail, sizeof(res->detail), "client certificate "
	    "not passed on: %s (subject %s)", why, subj);
}
