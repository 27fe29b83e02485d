/*
 * The statistics process's HTTP side: at most STATS_CLIENTS_MAX scrapers
 * at once (the listener pauses while that many are served), each with
 * STATS_CLIENT_SEC from accept to its last byte, one request each, the
 * connection closed after the answer.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "statsd.h"

#define STATS_OUT_MAX_BYTES	(STATS_PAGE_MAX_BYTES + 512)

static void	stats_http_read(int, short, void *);
static void	stats_http_write(int, short, void *);
static void	stats_http_timeout(int, short, void *);

static void
stats_http_free(struct stats_client *c)
{
	TAILQ_REMOVE(&senv->clients, c, entry);
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->timer != NULL)
		event_free(c->timer);
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
	/* A place is free again: take the next scraper. */
	if (senv->nclients-- == STATS_CLIENTS_MAX && senv->listen_ev != NULL)
		(void)event_add(senv->listen_ev, NULL);
}

void
stats_http_free_all(void)
{
	struct stats_client	*c;

	while ((c = TAILQ_FIRST(&senv->clients)) != NULL)
		stats_http_free(c);
}

void
stats_http_accept(int fd, short ev, void *arg)
{
	struct stats_client	*c;
	struct timeval		 tv = { STATS_CLIENT_SEC, 0 };
	int			 s;

	(void)ev;
	(void)arg;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("%s: accept", senv->label);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(s);
		return;
	}
	c->fd = s;
	TAILQ_INSERT_TAIL(&senv->clients, c, entry);
	if (++senv->nclients == STATS_CLIENTS_MAX)
		(void)event_del(senv->listen_ev);
	if (buf_init(&c->in, 0, HTTP_REQUEST_MAX_BYTES) == -1 ||
	    buf_init(&c->out, 0, STATS_OUT_MAX_BYTES) == -1 ||
	    (c->rev = event_new(senv->base, s, EV_READ | EV_PERSIST,
	    stats_http_read, c)) == NULL ||
	    (c->wev = event_new(senv->base, s, EV_WRITE | EV_PERSIST,
	    stats_http_write, c)) == NULL ||
	    (c->timer = evtimer_new(senv->base, stats_http_timeout, c)) ==
	    NULL || event_add(c->rev, NULL) == -1 ||
	    evtimer_add(c->timer, &tv) == -1) {
		stats_http_free(c);
		return;
	}
	c->state = SC_READ;
}

/* Too slow to send its request or to read the answer: gone. */
static void
stats_http_timeout(int fd, short ev, void *arg)
{
	struct stats_client	*c = arg;

	(void)fd;
	(void)ev;
	log_debug("scraper too slow (%s), closed", c->state == SC_READ ?
	    "request" : c->state == SC_WAIT ? "answers" : "reading");
	stats_http_free(c);
}

static void
stats_http_read(int fd, short ev, void *arg)
{
	struct stats_client	*c = arg;
	struct http_request	 req;
	enum http_verdict	 v;
	ssize_t			 n;

	(void)fd;
	(void)ev;
	if ((n = buf_read_fd(&c->in, c->fd)) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		stats_http_free(c);	/* gone, or sent more than a request */
		return;
	}
	v = http_request_parse((const char *)buf_data(&c->in),
	    buf_len(&c->in), &req);
	if (v == HTTP_INCOMPLETE)
		return;
	(void)event_del(c->rev);
	if (v != HTTP_OK) {
		stats_http_answer(c, v, NULL);
		return;
	}
	c->head = req.head;
	c->state = SC_WAIT;
	stats_round_join();
}

/* Status line, headers, and the body unless HEAD. */
void
stats_http_answer(struct stats_client *c, enum http_verdict v,
    const struct buf *page)
{
	const char	*ctype = "text/plain; charset=utf-8";
	char		 body[64];
	const void	*data;
	size_t		 len;

	if (v == HTTP_OK) {
		ctype = "text/plain; version=0.0.4; charset=utf-8";
		data = buf_data(page);
		len = buf_len(page);
	} else {
		(void)snprintf(body, sizeof(body), "%d %s\n", (int)v,
		    http_reason(v));
		data = body;
		len = strlen(body);
	}
	if (buf_addf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sCache-Control: no-store\r\n"
	    "Connection: close\r\n\r\n", (int)v, http_reason(v), ctype, len,
	    v == HTTP_METHOD_NOT_ALLOWED ? "Allow: GET, HEAD\r\n" : "") ==
	    -1 || (!c->head && len > 0 && buf_add(&c->out, data, len) == -1)) {
		stats_http_free(c);
		return;
	}
	c->state = SC_WRITE;
	if (event_add(c->wev, NULL) == -1)
		stats_http_free(c);
}

/* The round ended: every waiting scraper gets its page. */
void
stats_http_round_done(const struct buf *page)
{
	struct stats_client	*c, *next;

	TAILQ_FOREACH_SAFE(c, &senv->clients, entry, next)
		if (c->state == SC_WAIT)
			stats_http_answer(c, buf_len(page) > 0 ? HTTP_OK :
			    HTTP_INTERNAL_ERROR, page);
}

static void
stats_http_write(int fd, short ev, void *arg)
{
	struct stats_client	*c = arg;
	ssize_t			 n;

	(void)fd;
	(void)ev;
	if ((n = buf_write_fd(&c->out, c->fd)) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1 || buf_len(&c->out) == 0)
		stats_http_free(c);
}
