#include "config.h"

#include <errno.h>
#include <string.h>

#include <event2/event.h>

#include "core/curl.h"
#include "core/log.h"

/* One transfer the loop drives: found again through CURLINFO_PRIVATE. */
struct xfer {
	struct curl_loop *cl;
	CURL *easy;
	curl_done_cb cb;
	void *data;
	bool added;	   /* known to the multi handle */
	struct xfer *next; /* in cl->deferred while waiting to be added */
};

/* One libevent event per socket libcurl asked us to watch (sock_cb). */
struct sock {
	struct curl_loop *cl;
	curl_socket_t fd;
	struct event *ev;
	int what; /* CURL_POLL_* */
};

struct curl_loop {
	struct daemon *d;
	CURLM *multi;
	struct event *timer;
	struct event *deferred_ev; /* adds requested from inside libcurl callbacks */
	struct xfer *deferred;
	size_t running; /* transfers added and not finished */
	int depth;	/* > 0 while inside curl_multi_socket_action */
};

static bool global_done;

static void check_multi_info(struct curl_loop *cl)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(cl->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode res = msg->data.result;
		struct xfer *x = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(cl->multi, easy);
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		cl->running--;
		if (x) {
			curl_done_cb cb = x->cb;
			void *data = x->data;
			free(x);
			cb(easy, res, data);
		}
	}
}

static void socket_action(struct curl_loop *cl, curl_socket_t fd, int ev_bitmask)
{
	int still;
	cl->depth++;
	CURLMcode rc = curl_multi_socket_action(cl->multi, fd, ev_bitmask, &still);
	cl->depth--;
	if (rc != CURLM_OK)
		log_error("curl_multi_socket_action failed", "err=%s", curl_multi_strerror(rc));
	check_multi_info(cl);
}

static void event_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct curl_loop *cl = arg;
	int action =
	    ((kind & EV_READ) ? CURL_CSELECT_IN : 0) | ((kind & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	socket_action(cl, fd, action);
	/* libcurl disarms the timer itself through timer_cb when nothing runs */
}

static void timeout_cb(evutil_socket_t fd, short kind, void *arg)
{
	socket_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: one timer for the whole multi handle. */
static int timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct curl_loop *cl = arg;
	if (timeout_ms < 0) {
		evtimer_del(cl->timer);
		return 0;
	}
	/* 0 means "now": still go through the loop, never recurse into libcurl */
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	evtimer_add(cl->timer, &tv);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: keep one persistent event per socket in step with
 * what libcurl wants to wait for on it. */
static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct curl_loop *cl = arg;
	struct sock *s = sockp;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			event_free(s->ev);
			free(s);
			curl_multi_assign(cl->multi, fd, NULL);
		}
		return 0;
	}
	short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
		     ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (!s) {
		s = xzalloc(sizeof(*s));
		s->cl = cl;
		s->fd = fd;
		curl_multi_assign(cl->multi, fd, s);
	} else {
		if (s->what == what)
			return 0;
		event_free(s->ev);
	}
	s->what = what;
	s->ev = event_new(cl->d->base, fd, kind, event_cb, cl);
	event_add(s->ev, NULL);
	return 0;
}

/* libcurl's global set-up initialises OpenSSL (megabytes of resident
 * memory), and so does curl_multi_init: both wait for the first transfer,
 * so that an idle berthd never pays for them. */
static int global_init(err_t *err)
{
	if (global_done)
		return 0;
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		return make_error(err, E_INTERNAL, 0, "curl_global_init: %s",
				  curl_easy_strerror(rc));
	global_done = true;
	return 0;
}

static int ensure_multi(struct curl_loop *cl, err_t *err)
{
	if (cl->multi)
		return 0;
	if (global_init(err) < 0)
		return -1;
	cl->multi = curl_multi_init();
	if (!cl->multi)
		return make_error(err, E_INTERNAL, 0, "curl_multi_init failed");
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
	/* connections to a registry are reused across the layers of a pull */
	curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS, 64L);
	return 0;
}

static int add_now(struct curl_loop *cl, struct xfer *x, err_t *err)
{
	if (ensure_multi(cl, err) < 0)
		return -1;
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, (char *)x);
	CURLMcode rc = curl_multi_add_handle(cl->multi, x->easy);
	if (rc != CURLM_OK) {
		curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
		return make_error(err, E_INTERNAL, 0, "start transfer: %s",
				  curl_multi_strerror(rc));
	}
	x->added = true;
	cl->running++;
	return 0;
}

static void deferred_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct curl_loop *cl = arg;
	while (cl->deferred) {
		struct xfer *x = cl->deferred;
		cl->deferred = x->next;
		x->next = NULL;
		err_t err = NULL;
		if (add_now(cl, x, &err) < 0) {
			/* report it the only way an owner hears about its transfer */
			log_error("cannot start transfer", "err=%s", err->msg);
			err_free(&err);
			curl_done_cb cb = x->cb;
			void *data = x->data;
			CURL *easy = x->easy;
			free(x);
			cb(easy, CURLE_FAILED_INIT, data);
		}
	}
}

CURL *curl_loop_easy_new(err_t *err)
{
	if (global_init(err) < 0)
		return NULL;
	CURL *easy = curl_easy_init();
	if (!easy)
		make_error(err, E_INTERNAL, 0, "curl_easy_init failed");
	return easy;
}

struct curl_loop *curl_loop_new(struct daemon *d, err_t *err)
{
	struct curl_loop *cl = xzalloc(sizeof(*cl));
	cl->d = d;
	cl->timer = evtimer_new(d->base, timeout_cb, cl);
	cl->deferred_ev = event_new(d->base, -1, 0, deferred_cb, cl);
	return cl;
}

void curl_loop_free(struct curl_loop *cl)
{
	if (!cl)
		return;
	while (cl->deferred) {
		struct xfer *x = cl->deferred;
		cl->deferred = x->next;
		free(x);
	}
	/* owners remove their transfers (remotes_free) before this runs */
	if (cl->running)
		log_warn("transfers still running at curl loop shutdown", "count=%zu", cl->running);
	if (cl->multi) {
		curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, NULL);
		curl_multi_cleanup(cl->multi); /* closes sockets: sock_cb frees their events */
	}
	event_free(cl->timer);
	event_free(cl->deferred_ev);
	free(cl);
}

int curl_loop_add(struct curl_loop *cl, CURL *easy, curl_done_cb cb, void *data, err_t *err)
{
	struct xfer *x = xzalloc(sizeof(*x));
	x->cl = cl;
	x->easy = easy;
	x->cb = cb;
	x->data = data;
	if (cl->depth > 0) {
		/* libcurl refuses multi calls from its own callbacks: add from the
		 * loop, at once */
		curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)x);
		struct xfer **pp = &cl->deferred;
		while (*pp)
			pp = &(*pp)->next;
		*pp = x;
		event_active(cl->deferred_ev, 0, 0);
		return 0;
	}
	if (add_now(cl, x, err) < 0) {
		free(x);
		return -1;
	}
	return 0;
}

void curl_loop_remove(struct curl_loop *cl, CURL *easy)
{
	struct xfer *x = NULL;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
	if (!x)
		return;
	if (!x->added) {
		for (struct xfer **pp = &cl->deferred; *pp; pp = &(*pp)->next) {
			if (*pp == x) {
				*pp = x->next;
				break;
			}
		}
	} else {
		if (cl->depth > 0)
			log_error("curl_loop_remove called from a libcurl callback", "depth=%d",
				  cl->depth);
		curl_multi_remove_handle(cl->multi, easy);
		cl->running--;
	}
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	free(x);
}

size_t curl_loop_running(const struct curl_loop *cl)
{
	return cl->running;
}

bool curl_loop_in_callback(const struct curl_loop *cl)
{
	return cl->depth > 0;
}
