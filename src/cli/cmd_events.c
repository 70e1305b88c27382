/* berth events: follow GET /v1/events (Server-Sent Events) and print one line
 * per event, as `ctr events`, until interrupted or the daemon ends the stream.
 *
 * The SSE parser is incremental: libcurl hands over the body in arbitrary
 * pieces, so a line, a frame, or a CRLF pair may be split between two
 * calls. Lines end in LF, CR or CRLF; a blank line ends a frame (the
 * WHATWG EventSource rules, minus reconnection). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/json.h"
#include "core/names.h"

/* A longer line than this is not an event berthd sends; stop rather than grow. */
#define MAX_LINE (16u << 20)

static volatile sig_atomic_t interrupted;

static void interrupt_cb(int sig)
{
	interrupted = 1;
}

struct sse {
	struct cli *cli;
	struct buf line; /* the incomplete line so far */
	bool skip_lf;	 /* the last line ended in CR: a following LF belongs to it */
	struct buf data; /* this frame's data lines, each followed by LF */
	bool has_data;
	struct buf event;   /* this frame's `event:` */
	struct buf id;	    /* the last `id:` seen (it carries over, as in EventSource) */
	struct buf comment; /* the last comment, if nothing came after it */
	bool write_failed;
	int write_errno;
	bool too_long;
};

static void print_event(struct sse *s)
{
	json_error_t jerr;
	cleanup_json json_t *d = json_loadb(s->data.data, s->data.len, 0, &jerr);
	if (!json_is_object(d)) {
		fprintf(stderr, "berth: event %s: malformed data: %s\n",
			s->id.len ? s->id.data : "?", d ? "not an object" : jerr.text);
		return;
	}
	if (s->cli->json) {
		uint64_t id;
		if (s->id.len && parse_u64(s->id.data, &id) && id <= INT64_MAX)
			json_object_set_new(d, "id", json_integer((json_int_t)id));
		else if (s->id.len)
			json_object_set_new(d, "id", json_string(s->id.data));
		cleanup_free char *line = json_dump_compact(d, NULL);
		printf("%s\n", line);
	} else {
		const char *ts = json_get_string(d, "timestamp");
		const char *ns = json_get_string(d, "namespace");
		const char *topic = json_get_string(d, "topic");
		json_t *ev = json_object_get(d, "event");
		cleanup_free char *evs = ev ? json_dump_compact(ev, NULL) : xstrdup("{}");
		printf("%s %s %s %s\n", ts ? ts : "-", ns ? ns : "-",
		       topic ? topic : (s->event.len ? s->event.data : "-"), evs);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		s->write_failed = true;
		s->write_errno = errno;
	}
}

static void handle_line(struct sse *s, const char *line, size_t len)
{
	if (len == 0) { /* end of frame */
		if (s->has_data) {
			if (s->data.len && s->data.data[s->data.len - 1] == '\n')
				s->data.data[--s->data.len] = '\0';
			print_event(s);
			buf_reset(&s->comment);
		}
		buf_reset(&s->data);
		buf_reset(&s->event);
		s->has_data = false;
		return;
	}
	if (line[0] == ':') {
		/* kept to say why the stream ended; heartbeats (API.md) say nothing */
		size_t skip = len > 1 && line[1] == ' ' ? 2 : 1;
		if (len - skip == strlen("heartbeat") &&
		    memcmp(line + skip, "heartbeat", len - skip) == 0)
			return;
		buf_reset(&s->comment);
		buf_add(&s->comment, line + skip, len - skip);
		return;
	}
	const char *colon = memchr(line, ':', len);
	size_t flen = colon ? (size_t)(colon - line) : len;
	const char *value = colon ? colon + 1 : line + len;
	size_t vlen = len - (size_t)(value - line);
	if (vlen && *value == ' ') {
		value++;
		vlen--;
	}
	if (flen == 4 && memcmp(line, "data", 4) == 0) {
		buf_add(&s->data, value, vlen);
		buf_add(&s->data, "\n", 1);
		s->has_data = true;
	} else if (flen == 5 && memcmp(line, "event", 5) == 0) {
		buf_reset(&s->event);
		buf_add(&s->event, value, vlen);
	} else if (flen == 2 && memcmp(line, "id", 2) == 0 && !memchr(value, '\0', vlen)) {
		buf_reset(&s->id);
		buf_add(&s->id, value, vlen);
	} /* `retry:` and unknown fields are ignored */
}

static bool sse_data_cb(const char *p, size_t n, void *arg)
{
	struct sse *s = arg;
	while (n > 0 && !s->write_failed) {
		if (s->skip_lf) {
			s->skip_lf = false;
			if (*p == '\n') {
				p++;
				n--;
				continue;
			}
		}
		size_t k = 0;
		while (k < n && p[k] != '\n' && p[k] != '\r')
			k++;
		if (s->line.len + k > MAX_LINE) {
			s->too_long = true;
			return false;
		}
		if (k == n) {
			buf_add(&s->line, p, n);
			break;
		}
		if (s->line.len) {
			buf_add(&s->line, p, k);
			handle_line(s, s->line.data, s->line.len);
			buf_reset(&s->line);
		} else {
			handle_line(s, p, k);
		}
		s->skip_lf = p[k] == '\r';
		p += k + 1;
		n -= k + 1;
	}
	return !s->write_failed;
}

enum { OPT_TOPIC = 256, OPT_NS_FILTER, OPT_ALL_NS, OPT_SINCE };

static int events_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"topic", required_argument, NULL, OPT_TOPIC},
	    {"namespace-filter", required_argument, NULL, OPT_NS_FILTER},
	    {"all-namespaces", no_argument, NULL, OPT_ALL_NS},
	    {"since", required_argument, NULL, OPT_SINCE},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	struct buf path = BUF_INIT;
	buf_adds(&path, "/v1/events");
	const char *ns_filter = NULL, *since = NULL;
	bool all_ns = false;
	int st = CLI_OK, c;
	while (st == CLI_OK && (c = cli_getopt(cli, argc, argv, "h", longopts)) != -1) {
		switch (c) {
		case OPT_TOPIC:
			if (optarg[0] != '/')
				st = cli_usage_error(cli, "bad --topic `%s`: topics start with `/`",
						     optarg);
			else
				client_query_add(&path, "topic", optarg);
			break;
		case OPT_NS_FILTER: {
			err_t err = NULL;
			if (name_validate_namespace(optarg, &err) < 0) {
				st = cli_usage_error(cli, "%s", err->msg);
				err_free(&err);
			}
			ns_filter = optarg;
			break;
		}
		case OPT_ALL_NS:
			all_ns = true;
			break;
		case OPT_SINCE: {
			uint64_t id;
			if (!parse_u64(optarg, &id))
				st = cli_usage_error(cli, "bad --since `%s`: want an event id",
						     optarg);
			else
				since = optarg;
			break;
		}
		default:
			st = cli_getopt_other(cli, c);
			buf_release(&path);
			return st;
		}
	}
	if (st == CLI_OK && optind < argc)
		st = cli_usage_error(cli, "unexpected argument `%s`", argv[optind]);
	if (st == CLI_OK && ns_filter && all_ns)
		st = cli_usage_error(cli,
				     "--namespace-filter and --all-namespaces exclude each other");
	struct client *client = st == CLI_OK ? cli_client(cli, &st) : NULL;
	if (!client) {
		buf_release(&path);
		return st;
	}
	if (ns_filter)
		client_query_add(&path, "namespace", ns_filter);
	if (since)
		client_query_add(&path, "since", since);

	struct sigaction sa = {.sa_handler = interrupt_cb}; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct sse s = {.cli = cli};
	err_t err = NULL;
	enum client_status cs = client_stream(client, path.data, "text/event-stream", sse_data_cb,
					      &s, &interrupted, &err);
	buf_release(&path);
	if (interrupted) {
		st = CLI_OK;
	} else if (s.write_failed) {
		/* the reader went away (`| head`): a normal end; anything else is not */
		if (s.write_errno != EPIPE) {
			fprintf(stderr, "berth: cannot write the output: %s\n",
				strerror(s.write_errno));
			st = CLI_ERROR;
		}
	} else if (s.too_long) {
		fprintf(stderr, "berth: event stream line longer than %u MiB\n", MAX_LINE >> 20);
		st = CLI_ERROR;
	} else if (cs != CLIENT_OK) {
		st = cli_fail(&err, (int)cs);
	} else {
		fprintf(stderr, "berth: berthd ended the event stream%s%s\n",
			s.comment.len ? ": " : "", s.comment.len ? s.comment.data : "");
	}
	err_free(&err);
	buf_release(&s.line);
	buf_release(&s.data);
	buf_release(&s.event);
	buf_release(&s.id);
	buf_release(&s.comment);
	return st;
}

const struct cli_command cmd_events = {
    .name = "events",
    .summary = "follow the daemon's events",
    .synopsis = "[--topic PREFIX]... [--namespace-filter NS | --all-namespaces] [--since ID]",
    .help = "Follow the daemon's events (GET /v1/events, Server-Sent Events) and print\n"
	    "one line per event, as `ctr events`:\n"
	    "\n"
	    "  TIMESTAMP NAMESPACE TOPIC EVENT\n"
	    "\n"
	    "with EVENT the event's JSON on one line. With --json, each line is instead\n"
	    "the whole event as JSON, with its stream id: {\"timestamp\",\"namespace\",\n"
	    "\"topic\",\"event\",\"id\"} (one object per line, for jq).\n"
	    "Events of every namespace are shown, as with ctr: the global -n does not\n"
	    "filter them; --namespace-filter does.\n"
	    "Runs until interrupted (Ctrl-C: exit 0) or until the daemon ends the stream\n"
	    "(exit 0 if it ended cleanly, 1 if the connection broke).\n"
	    "\n"
	    "Options:\n"
	    "      --topic PREFIX         only topics starting with PREFIX (e.g. /tasks/);\n"
	    "                             repeat for several\n"
	    "      --namespace-filter NS  only events of namespace NS\n"
	    "      --all-namespaces       events of every namespace (the default)\n"
	    "      --since ID             first replay the events after ID that the daemon\n"
	    "                             still holds (ID as printed with --json)\n"
	    "  -h, --help                 show this help\n",
    .run = events_run,
};
