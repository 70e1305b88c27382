/*
 * spec-gen: print what src/spec makes, for t/t5002-spec-vs-containerd.sh
 * and by hand.
 *
 *   spec-gen [options]            spec_generate() with these options
 *   spec-gen --validate FILE      spec_validate() on FILE's JSON ("-": stdin)
 *   spec-gen --default NS ID      the default spec alone (no image, no seccomp)
 *
 *   --id ID --ns NS --image-config FILE (an image config blob)
 *   --layer DIR (repeatable, topmost first)
 *   --args JSON --env JSON --mounts JSON (arrays, as in the API)
 *   --cwd DIR --user USER --hostname NAME --terminal --net-host --readonly
 *   --memory BYTES --cpus N --cpu-shares N --pids N
 *
 * Prints the spec as indented JSON on stdout (--validate: "ok"); on an
 * error "error KIND MESSAGE" on stderr and exits 1; bad usage exits 2.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/json.h"
#include "spec/internal.h"

static json_t *load(const char *path)
{
	json_error_t jerr;
	json_t *j = strcmp(path, "-") == 0 ? json_loadf(stdin, JSON_DECODE_ANY, &jerr)
					   : json_load_file(path, JSON_DECODE_ANY, &jerr);
	if (!j) {
		fprintf(stderr, "spec-gen: %s: %s\n", path, jerr.text);
		exit(2);
	}
	return j;
}

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (!j) {
		fprintf(stderr, "spec-gen: `%s`: %s\n", text, jerr.text);
		exit(2);
	}
	return j;
}

static int fail(err_t *err)
{
	fprintf(stderr, "error %s %s\n", err_kind_code((*err)->kind), (*err)->msg);
	err_free(err);
	return 1;
}

int main(int argc, char **argv)
{
	enum { O_ID = 256, O_NS, O_IMAGE, O_LAYER, O_ARGS, O_ENV, O_MOUNTS, O_CWD, O_USER,
	       O_HOSTNAME, O_TERMINAL, O_NET_HOST, O_READONLY, O_MEMORY, O_CPUS, O_SHARES,
	       O_PIDS, O_VALIDATE, O_DEFAULT };
	static const struct option longopts[] = {
		{ "id", required_argument, NULL, O_ID },
		{ "ns", required_argument, NULL, O_NS },
		{ "image-config", required_argument, NULL, O_IMAGE },
		{ "layer", required_argument, NULL, O_LAYER },
		{ "args", required_argument, NULL, O_ARGS },
		{ "env", required_argument, NULL, O_ENV },
		{ "mounts", required_argument, NULL, O_MOUNTS },
		{ "cwd", required_argument, NULL, O_CWD },
		{ "user", required_argument, NULL, O_USER },
		{ "hostname", required_argument, NULL, O_HOSTNAME },
		{ "terminal", no_argument, NULL, O_TERMINAL },
		{ "net-host", no_argument, NULL, O_NET_HOST },
		{ "readonly", no_argument, NULL, O_READONLY },
		{ "memory", required_argument, NULL, O_MEMORY },
		{ "cpus", required_argument, NULL, O_CPUS },
		{ "cpu-shares", required_argument, NULL, O_SHARES },
		{ "pids", required_argument, NULL, O_PIDS },
		{ "validate", required_argument, NULL, O_VALIDATE },
		{ "default", no_argument, NULL, O_DEFAULT },
		{ NULL, 0, NULL, 0 },
	};
	struct spec_opts o = { 0 };
	const char *layers[64] = { NULL };
	size_t nlayers = 0;
	json_t *image = NULL, *owned[4] = { NULL };
	const char *validate = NULL;
	bool dflt = false;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_ID: o.id = optarg; break;
		case O_NS: o.ns = optarg; break;
		case O_IMAGE: o.image_config = image = load(optarg); break;
		case O_LAYER:
			if (nlayers + 1 >= ARRAY_SIZE(layers))
				return 2;
			layers[nlayers++] = optarg;
			o.rootfs_layers = layers;
			break;
		case O_ARGS: o.args = owned[0] = parse(optarg); break;
		case O_ENV: o.env = owned[1] = parse(optarg); break;
		case O_MOUNTS: o.mounts = owned[2] = parse(optarg); break;
		case O_CWD: o.cwd = optarg; break;
		case O_USER: o.user = optarg; break;
		case O_HOSTNAME: o.hostname = optarg; break;
		case O_TERMINAL: o.terminal = true; break;
		case O_NET_HOST: o.net_host = true; break;
		case O_READONLY: o.readonly_rootfs = true; break;
		case O_MEMORY: o.memory = strtoll(optarg, NULL, 10); break;
		case O_CPUS: o.cpus = strtod(optarg, NULL); break;
		case O_SHARES: o.cpu_shares = strtoll(optarg, NULL, 10); break;
		case O_PIDS: o.pids = strtoll(optarg, NULL, 10); break;
		case O_VALIDATE: validate = optarg; break;
		case O_DEFAULT: dflt = true; break;
		default: return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: spec-gen [options]\n");
		return 2;
	}
	err_t err = NULL;
	int rc = 0;
	if (validate) {
		json_t *spec = load(validate);
		if (spec_validate(spec, &err) < 0)
			rc = fail(&err);
		else
			printf("ok\n");
		json_decref(spec);
	} else {
		json_t *spec = NULL;
		if (dflt)
			spec = spec_default_new(o.ns, o.id);
		else if (spec_generate(&o, &spec, &err) < 0)
			rc = fail(&err);
		if (spec) {
			json_dumpf(spec, stdout, JSON_INDENT(2));
			printf("\n");
			json_decref(spec);
		}
	}
	json_decref(image);
	for (size_t i = 0; i < ARRAY_SIZE(owned); i++)
		json_decref(owned[i]);
	return rc;
}
