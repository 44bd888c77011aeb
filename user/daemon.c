// SPDX-License-Identifier: LGPL-2.1
/*
 * The warm daemon.  One poll loop serves the ring buffer, the listening
 * socket and every client, all non-blocking: a slow or vanished client
 * never holds up tracing or the other clients.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <bpf/libbpf.h>
#include <yajl/yajl_gen.h>
#include "cgroup_freeze.h"
#include "daemon.h"
#include "export.h"
#include "live_json.h"
#include "util.h"

#define MAX_CLIENTS 64
#define MAX_REQUEST 128
#define CLIENT_TIMEOUT_NS (10ull * 1000000000ull)

struct client {
	int fd;
	char req[MAX_REQUEST];
	size_t req_len;
	char *resp; /* NULL while reading the request */
	size_t resp_len, off;
	uint64_t deadline;
};

struct daemon {
	const struct kt_daemon_opts *o;
	struct kt_tracer tr;
	int lfd;
	char desc[512];
	char freeze_dir[PATH_MAX];
	char freeze_why[256];
	bool can_freeze;
	struct client clients[MAX_CLIENTS];
	int nclients;
	uint64_t served, refused, dropped_clients, started_ns;
	struct live_json_cache jc; /* pieces of the last answer, reused while current */
	uint64_t last_verify_ns, last_serialize_ns;
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	stop_requested = sig;
}

/* ---- answers ---- */

static char *gen_take(yajl_gen g, size_t *len)
{
	const unsigned char *buf;
	char *out;

	yajl_gen_get_buf(g, &buf, len);
	out = malloc(*len + 1);
	if (out) {
		memcpy(out, buf, *len);
		out[(*len)++] = '\n';
	}
	yajl_gen_free(g);
	return out;
}

static void kv_str(yajl_gen g, const char *k, const char *v)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
	yajl_gen_string(g, (const unsigned char *)v, strlen(v));
}

static void kv_int(yajl_gen g, const char *k, long long v)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
	yajl_gen_integer(g, v);
}

static char *error_answer(const char *msg, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	yajl_gen_map_open(g);
	kv_str(g, "error", msg);
	yajl_gen_map_close(g);
	return gen_take(g, len);
}

static char *stats_answer(struct daemon *d, bool health, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	uint64_t now = kt_now_ns();
	struct kid_stats k = live_stats(&d->tr.st);

	yajl_gen_map_open(g);
	if (health) {
		kv_str(g, "status", "ok");
		kv_str(g, "target", d->desc);
		kv_int(g, "tasks", (long long)d->tr.st.tasks.len);
		kv_int(g, "newest_event_age_ms",
		       (long long)((now - d->tr.last_event_ns) / 1000000));
		kv_int(g, "lost_events", (long long)d->tr.c.lost);
	} else {
		kv_int(g, "tasks", (long long)d->tr.st.tasks.len);
		kv_int(g, "fds", (long long)d->tr.st.nfds);
		kv_int(g, "events", (long long)d->tr.c.events);
		kv_int(g, "lost_events", (long long)d->tr.c.lost);
		kv_int(g, "rescans", (long long)d->tr.c.rescans);
		kv_int(g, "kcmp_calls", (long long)k.kcmp_calls);
		kv_int(g, "served", (long long)d->served);
		kv_int(g, "refused", (long long)d->refused);
		kv_int(g, "clients_gone", (long long)d->dropped_clients);
		kv_int(g, "uptime_ms", (long long)((now - d->started_ns) / 1000000));
		/* where the last snapshot's time went, and how much JSON was reused */
		kv_int(g, "last_verify_us", (long long)(d->last_verify_ns / 1000));
		kv_int(g, "last_serialize_us", (long long)(d->last_serialize_ns / 1000));
		kv_int(g, "json_pieces_kept", (long long)d->jc.pieces_kept);
		kv_int(g, "json_pieces_made", (long long)d->jc.pieces_made);
	}
	yajl_gen_map_close(g);
	return gen_take(g, len);
}

static uint64_t realtime_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* Unknown stays unknown: the JSON has no "path" rather than tracer_fd_path()'s "?". */
static void resolve_path(struct live_fd *f)
{
	tracer_fd_path(f);
}

static int serialize(struct daemon *d, const struct kt_verification *v, char **out, size_t *len)
{
	struct live_json_doc doc = { .target_desc = d->desc,
				     .taken_at_ns = realtime_ns(),
				     .lost_events = d->tr.c.lost,
				     .verification = v,
				     .resolve_path = resolve_path };

	return live_json_write(&d->tr.st, &d->jc, &doc, out, len);
}

/* Make every table's JSON now, so the first client is served as fast as the rest. */
static void prime_json(struct daemon *d)
{
	struct kt_verification v = { .method = "" };
	char *out = NULL;
	size_t len;

	if (!serialize(d, &v, &out, &len))
		free(out);
}

/*
 * Frozen or not, the cgroup is thawed before the answer is written, on
 * every path: a checkpointer's target must never stay frozen because of us.
 */
static char *snapshot_answer(struct daemon *d, bool freeze, size_t *len)
{
	struct kt_verification v = { .frozen = freeze };
	char *out = NULL, msg[512];
	uint64_t t0, t1;
	int r = 0;

	if (freeze && !d->can_freeze)
		return error_answer(d->freeze_why, len);
	if (freeze)
		r = cgroup_freeze(d->freeze_dir);
	t0 = kt_now_ns();
	if (!r)
		r = tracer_verify(&d->tr, &v);
	if (!r && freeze && getenv("KCMPTRACE_TEST_FAIL_FROZEN"))
		r = -EIO; /* test hook: an error while frozen */
	t1 = kt_now_ns();
	if (!r)
		r = serialize(d, &v, &out, len);
	d->last_verify_ns = t1 - t0;
	d->last_serialize_ns = kt_now_ns() - t1;
	if (freeze)
		cgroup_thaw(d->freeze_dir);
	if (r) {
		snprintf(msg, sizeof(msg), "snapshot failed: %s", strerror(-r));
		return error_answer(msg, len);
	}
	d->served++;
	return out;
}

static char *answer(struct daemon *d, const char *req, size_t *len)
{
	if (!strcmp(req, "snapshot"))
		return snapshot_answer(d, d->o->freeze, len);
	if (!strcmp(req, "snapshot freeze"))
		return snapshot_answer(d, true, len);
	/*
	 * Counts and the newest event's age include what waits in the buffer:
	 * a quiet-looking daemon with unread events misled clients (and a
	 * test) into asking for a snapshot in the middle of an exec.
	 */
	if (!strcmp(req, "stats") || !strcmp(req, "health")) {
		if (tracer_settle(&d->tr))
			kt_err("applying events failed; rescanning on the next request");
		return stats_answer(d, !strcmp(req, "health"), len);
	}
	return error_answer("unknown request (snapshot, snapshot freeze, stats, health)", len);
}

/* ---- clients ---- */

/*
 * The peer's supplementary groups as the kernel recorded them at connect():
 * /proc/PID/status could describe another process once the pid is reused.
 */
static bool peer_in_group(int fd, gid_t gid)
{
	gid_t few[64], *g = few;
	socklen_t len = sizeof(few);
	bool in = false;
	int r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len);

	if (r && errno == ERANGE && (g = malloc(len)))
		r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len);
	for (size_t i = 0; !r && i < len / sizeof(gid_t); i++)
		in |= g[i] == gid;
	if (g != few)
		free(g);
	return in;
}

static bool peer_allowed(struct daemon *d, int fd, char *why, size_t len)
{
	struct ucred cr;
	socklen_t sl = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &sl)) {
		snprintf(why, len, "no peer credentials: %s", strerror(errno));
		return false;
	}
	if (cr.uid == 0 ||
	    (d->o->has_group && (cr.gid == d->o->group || peer_in_group(fd, d->o->group))))
		return true;
	snprintf(why, len, "pid %d uid %u is neither root nor in the allowed group", (int)cr.pid,
		 (unsigned)cr.uid);
	return false;
}

static void client_close(struct daemon *d, int i)
{
	close(d->clients[i].fd);
	free(d->clients[i].resp);
	d->clients[i] = d->clients[--d->nclients];
}

static void accept_clients(struct daemon *d)
{
	char why[256];
	int fd;

	while ((fd = accept4(d->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (!peer_allowed(d, fd, why, sizeof(why))) {
			static const char refusal[] = "{\"error\":\"permission denied\"}\n";

			kt_err("refused a client: %s", why);
			d->refused++;
			if (send(fd, refusal, sizeof(refusal) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				d->dropped_clients++;
			close(fd);
			continue;
		}
		if (d->nclients == MAX_CLIENTS) {
			close(fd); /* busy: the client sees EOF and may retry */
			continue;
		}
		d->clients[d->nclients++] =
			(struct client){ .fd = fd, .deadline = kt_now_ns() + CLIENT_TIMEOUT_NS };
	}
}

/* Returns false when the client is done or gone. */
static bool client_read(struct daemon *d, struct client *c)
{
	ssize_t n = recv(c->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len, 0);
	char *nl;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0) {
		d->dropped_clients++;
		return false;
	}
	c->req_len += (size_t)n;
	c->req[c->req_len] = '\0';
	nl = strchr(c->req, '\n');
	if (!nl && c->req_len < sizeof(c->req) - 1)
		return true;
	if (nl)
		*nl = '\0';
	c->resp = nl ? answer(d, c->req, &c->resp_len)
		     : error_answer("request too long", &c->resp_len);
	return c->resp != NULL;
}

static bool client_write(struct daemon *d, struct client *c)
{
	while (c->off < c->resp_len) {
		ssize_t n = send(c->fd, c->resp + c->off, c->resp_len - c->off, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0) {
			d->dropped_clients++; /* went away mid-answer: only it is affected */
			return false;
		}
		c->off += (size_t)n;
	}
	return false;
}

static void serve_clients(struct daemon *d, const struct pollfd *pfd)
{
	uint64_t now = kt_now_ns();

	for (int i = d->nclients - 1; i >= 0; i--) {
		struct client *c = &d->clients[i];
		bool keep = true;

		if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL) && !(pfd[i].revents & POLLIN)) {
			d->dropped_clients++;
			keep = false;
		} else if (!c->resp && (pfd[i].revents & POLLIN)) {
			keep = client_read(d, c);
		}
		if (keep && c->resp)
			keep = client_write(d, c);
		if (keep && now > c->deadline) {
			d->dropped_clients++;
			keep = false;
		}
		if (!keep)
			client_close(d, i);
	}
}

/* ---- the socket and the loop ---- */

static int listen_on(const char *path, const struct kt_daemon_opts *o)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a socket left by a dead daemon answers nothing: replace it */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	if (errno == ECONNREFUSED) {
		struct stat st;

		/* only a socket is ours to replace: --socket /etc/passwd must not delete it */
		if (!lstat(path, &st) && !S_ISSOCK(st.st_mode)) {
			close(fd);
			return -ENOTSOCK;
		}
		unlink(path);
	}
	old = umask(0177); /* born 0600: no window where others may connect */
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (!r && o->has_group && (chown(path, 0, o->group) || chmod(path, 0660)))
		r = -1;
	if (!r)
		r = listen(fd, 64);
	if (r) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static void loop(struct daemon *d)
{
	struct pollfd pfd[MAX_CLIENTS + 2];
	int rb = ring_buffer__epoll_fd(d->tr.rb);

	while (!stop_requested) {
		int n = d->nclients;

		for (int i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ d->clients[i].fd,
						  d->clients[i].resp ? POLLOUT : POLLIN, 0 };
		int pace = tracer_pace_ms(&d->tr);

		pfd[n] = (struct pollfd){ d->lfd, POLLIN, 0 };
		/* a busy buffer is read in batches (tracer_pace_ms()) */
		pfd[n + 1] = (struct pollfd){ pace ? -1 : rb, POLLIN, 0 };
		if (poll(pfd, (nfds_t)n + 2, pace ? pace : 100) < 0 && errno != EINTR)
			break;
		if (tracer_poll(&d->tr, 0))
			kt_err("applying events failed; rescanning on the next request");
		serve_clients(d, pfd);
		if (pfd[n].revents & POLLIN)
			accept_clients(d);
		if (tracer_target_gone(&d->tr)) {
			kt_err("the target has exited");
			break;
		}
	}
}

int daemon_run(const struct kt_target *t, const struct kt_daemon_opts *o)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct sigaction sa = { .sa_handler = on_stop };
	char why[256] = "";
	int r;

	if (!d)
		return KT_EXIT_ERROR;
	d->o = o;
	d->started_ns = kt_now_ns();
	target_describe(t, d->desc, sizeof(d->desc));
	d->can_freeze = !freeze_dir_for(t, d->freeze_dir, sizeof(d->freeze_dir), d->freeze_why,
					sizeof(d->freeze_why));
	if (o->freeze && !d->can_freeze) {
		kt_err("cannot freeze: %s", d->freeze_why);
		free(d);
		return KT_EXIT_USAGE;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->lfd = listen_on(o->socket_path, o);
	if (d->lfd < 0) {
		kt_err("cannot listen on %s: %s", o->socket_path,
		       d->lfd == -EADDRINUSE ? "a daemon is already serving it"
		       : d->lfd == -ENOTSOCK ? "it exists and is not a socket"
					     : strerror(-d->lfd));
		free(d);
		return KT_EXIT_ERROR;
	}
	r = tracer_start(&d->tr, t, &o->topts, why, sizeof(why));
	if (r) {
		kt_err("cannot trace: %s", *why ? why : strerror(-r));
	} else {
		prime_json(d);
		kt_err("serving %s on %s: %zu tasks, %llu fds", d->desc, o->socket_path,
		       d->tr.st.tasks.len, (unsigned long long)d->tr.st.nfds);
		loop(d);
	}
	while (d->nclients)
		client_close(d, d->nclients - 1);
	close(d->lfd);
	unlink(o->socket_path);
	tracer_stop(&d->tr);
	live_json_cache_free(&d->jc);
	kt_err("served %llu snapshots, refused %llu clients", (unsigned long long)d->served,
	       (unsigned long long)d->refused);
	free(d);
	return r ? (r == -ENOTSUP ? KT_EXIT_PERM : KT_EXIT_ERROR) : 0;
}

int daemon_request(const char *socket_path, const char *request, char **out, size_t *len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t cap = 1 << 16;
	char *buf, line[MAX_REQUEST];
	int fd, r = 0, unsent = 0;
	int n = snprintf(line, sizeof(line), "%s\n", request);

	if (n < 0 || (size_t)n >= sizeof(line))
		return -E2BIG;
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		r = -errno;
		close(fd);
		return r;
	}
	/*
	 * A refusal can come, and the daemon hang up, before the request is
	 * sent: the send fails (EPIPE) but the answer is there to read.
	 */
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0)
		unsent = -errno;
	buf = malloc(cap);
	*len = 0;
	while (buf) {
		ssize_t got;

		if (*len + 1 >= cap) { /* room for the terminating NUL */
			char *p = realloc(buf, cap *= 2);

			if (!p) {
				r = -ENOMEM;
				break;
			}
			buf = p;
		}
		got = recv(fd, buf + *len, cap - *len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		/* reset after an answer: the daemon hung up on an unread request (a refusal) */
		if (got < 0 && !(*len && errno == ECONNRESET))
			r = -errno;
		if (got <= 0)
			break;
		*len += (size_t)got;
	}
	close(fd);
	if (!buf)
		return -ENOMEM;
	if (r || !*len) {
		free(buf);
		return r ? r : unsent ? unsent : -ECONNRESET;
	}
	buf[*len] = '\0';
	*out = buf;
	return 0;
}
