/*
 * mmp-ldapd wipes every heap block it frees. A PreAuth bind's password
 * passes through libldap's BER buffers, which libldap frees with plain
 * free(3) (its memory hooks apply only to slapd's contexts): without this
 * the password would stay in the heap after the bind, where the AuthCache
 * takes care to keep only an HMAC of it. The executable's free() and
 * realloc() take the place of libc's for the libraries too (ELF symbol
 * interposition). ASan brings its own allocator: left alone there.
 */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* GCC says __SANITIZE_ADDRESS__, clang __has_feature (the fuzz build). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WIPEFREE_ASAN	1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WIPEFREE_ASAN	1
#endif

#if !defined(WIPEFREE_ASAN)

void	*__libc_malloc(size_t);
void	 __libc_free(void *);

void
free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	__libc_free(p);
}

/* Always a copy: libc's realloc would free a moved block unwiped. */
void *
realloc(void *p, size_t n)
{
	void	*q;
	size_t	 old;

	if (p == NULL)
		return __libc_malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	old = malloc_usable_size(p);
	if (n <= old)
		return p;
	if ((q = __libc_malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, old);
	free(p);
	return q;
}

void *
reallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, nmemb * size);
}

#endif /* !WIPEFREE_ASAN */
