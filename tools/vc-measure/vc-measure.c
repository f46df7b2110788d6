// SPDX-License-Identifier: MIT
// vc-measure: make, sign, show and verify reference-value lists of boot stages, and read
// the TCG event logs a verification writes. The interface is fixed (scripts depend on it).
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <virtcore/trust.h>

#include "error-capture.h"
#include "stdout-check.h"

static const char *prog = "vc-measure";

static const char usage_main[] =
	"usage: vc-measure COMMAND [OPTIONS] ...\n"
	"Reference-value lists for a chain of boot stages: each stage is verified against the\n"
	"list before control passes to it.\n"
	"\n"
	"commands:\n"
	"  keygen PRIVATE.pem PUBLIC.pem                       a new Ed25519 key pair\n"
	"  make -o LIST [--alg sha256|sha384] NAME=FILE...     measure FILEs into LIST, in order\n"
	"  sign -k PRIVATE.pem LIST                            sign LIST (in place)\n"
	"  verify [-p PUBLIC.pem] [--log EVENTLOG] LIST NAME=FILE...\n"
	"                                                      verify stages in order\n"
	"  show LIST                                           the list as text\n"
	"  log EVENTLOG                                        events and final PCRs\n"
	"\n"
	"`vc-measure COMMAND --help` describes one. Exit 0 on success, 1 on failure (with\n"
	"`vc-measure: WHAT: what is wrong`), 2 on a usage error.\n";

static const char usage_keygen[] =
	"usage: vc-measure keygen PRIVATE.pem PUBLIC.pem\n"
	"Writes a new Ed25519 key pair: the private key (PKCS#8 PEM, mode 0600) and the public\n"
	"key (SubjectPublicKeyInfo PEM) that verifiers pin.\n";

static const char usage_make[] =
	"usage: vc-measure make -o LIST [--alg sha256|sha384] NAME=FILE...\n"
	"Measures each FILE and writes the unsigned list LIST; the order given is the chain\n"
	"order. NAME: 1 to 47 bytes, no spaces, control characters or '='.\n"
	"  -o LIST          the list to write\n"
	"  --alg ALG        sha256 (default) or sha384\n";

static const char usage_sign[] =
	"usage: vc-measure sign -k PRIVATE.pem LIST\n"
	"Signs LIST with the Ed25519 key, in place (a previous signature is replaced).\n";

static const char usage_verify[] =
	"usage: vc-measure verify [-p PUBLIC.pem] [--log EVENTLOG] LIST NAME=FILE...\n"
	"Verifies the stages in the order given against LIST: each must be the list's next\n"
	"stage, with its size and digest. Exit 0 only if every stage of the list verifies.\n"
	"  -p PUBLIC.pem    the pinned key: LIST must be signed by it (without -p the\n"
	"                   signature is not checked, and a warning says so)\n"
	"  --log EVENTLOG   write the TCG crypto-agile event log of what was measured\n"
	"                   (EV_IPL events in PCR 9; tpm2_eventlog reads it)\n";

static const char usage_show[] =
	"usage: vc-measure show LIST\n"
	"Prints the list as text (one stage per line: index, name, role, size, digest), without\n"
	"checking its signature.\n";

static const char usage_log[] =
	"usage: vc-measure log EVENTLOG\n"
	"Validates a TCG crypto-agile event log (strictly) and prints its events and the final\n"
	"value of every PCR it extends.\n";

/* `vc-measure: WHAT: detail`; a library message that names its own subject ("stage X:
 * ...") is printed as it is. */
static int fail(const char *what, int rc)
{
	const char *msg = tool_last_error() ? tool_last_error() : vc_strerror(rc);

	if (strncmp(msg, "stage ", 6) == 0)
		fprintf(stderr, "%s: %s\n", prog, msg);
	else
		fprintf(stderr, "%s: %s: %s\n", prog, what, msg);
	tool_clear_error();
	return 1;
}

static int usage_error(const char *usage, const char *msg)
{
	fprintf(stderr, "%s: %s\n%s", prog, msg, usage);
	return 2;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

/* Splits NAME=FILE; the name part must be non-empty. */
static bool split_stage(char *arg, char **name, char **file)
{
	char *eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1])
		return false;
	*eq = '\0';
	*name = arg;
	*file = eq + 1;
	return true;
}

/* Whether @a and @b are one existing file (through links and other names). */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* An output must not be one of the command's inputs: the stage FILEs of the @n NAME=FILE
 * @args, and the @nextra @extra files. Checked before anything is read or written; 0, or 1
 * with the reason printed. */
static int output_is_not_an_input(const char *out, const char *option, char **args, int n,
				  const char *const *extra, int nextra)
{
	for (int i = 0; i < n + nextra; i++) {
		const char *in = i < n ? strchr(args[i], '=') : extra[i - n];
		if (i < n && in)
			in++;
		if (in && *in && same_file(out, in)) {
			fprintf(stderr, "%s: %s %s: that is also an input (%s): it would be "
				"overwritten; choose another file\n", prog, option, out, in);
			return 1;
		}
	}
	return 0;
}

static void hex(const uint8_t *p, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static int cmd_keygen(int argc, char **argv)
{
	if (wants_help(argc, argv))
		return fputs(usage_keygen, stdout), 0;
	if (argc != 3)
		return usage_error(usage_keygen, "keygen needs PRIVATE.pem and PUBLIC.pem");
	vc_trust_key *k;
	int rc = vc_trust_key_generate(&k);
	if (!rc)
		rc = vc_trust_key_save(k, argv[1], argv[2]);
	vc_trust_key_destroy(k);
	return rc ? fail(argv[1], rc) : 0;
}

static int cmd_make(int argc, char **argv)
{
	static const struct option opts[] = {
		{"alg", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *out = NULL;
	uint32_t alg = VC_TRUST_ALG_SHA256;
	int c;

	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'a' && strcmp(optarg, "sha256") == 0)
			alg = VC_TRUST_ALG_SHA256;
		else if (c == 'a' && strcmp(optarg, "sha384") == 0)
			alg = VC_TRUST_ALG_SHA384;
		else if (c == 'a')
			return usage_error(usage_make, "--alg: use sha256 or sha384");
		else if (c == 'h')
			return fputs(usage_make, stdout), 0;
		else
			return fputs(usage_make, stderr), 2;
	}
	if (!out)
		return usage_error(usage_make, "make needs -o LIST");
	if (optind == argc)
		return usage_error(usage_make, "make needs at least one NAME=FILE");
	if (output_is_not_an_input(out, "-o", argv + optind, argc - optind, NULL, 0))
		return 1;

	vc_trust_list *l;
	int rc = vc_trust_list_create(&l, alg);
	for (int i = optind; rc == 0 && i < argc; i++) {
		char *name, *file;
		if (!split_stage(argv[i], &name, &file)) {
			vc_trust_list_destroy(l);
			return usage_error(usage_make, "stages are given as NAME=FILE");
		}
		rc = vc_trust_list_add_path(l, name, VC_TRUST_ROLE_STAGE, file);
		if (rc) {
			vc_trust_list_destroy(l);
			return fail(file, rc);
		}
	}
	if (!rc)
		rc = vc_trust_list_save(l, out);
	vc_trust_list_destroy(l);
	return rc ? fail(out, rc) : 0;
}

static int cmd_sign(int argc, char **argv)
{
	const char *key_path = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "+k:h", (const struct option[]){
			{"help", no_argument, NULL, 'h'}, {0}}, NULL)) != -1) {
		if (c == 'k')
			key_path = optarg;
		else if (c == 'h')
			return fputs(usage_sign, stdout), 0;
		else
			return fputs(usage_sign, stderr), 2;
	}
	if (!key_path || argc - optind != 1)
		return usage_error(usage_sign, "sign needs -k PRIVATE.pem and one LIST");
	const char *list_path = argv[optind];
	vc_trust_key *k;
	vc_trust_list *l;
	int rc = vc_trust_key_load(&k, key_path);
	if (rc)
		return fail(key_path, rc);
	VC_OPTS(vc_trust_load_opts, o, .flags = VC_TRUST_LOAD_UNVERIFIED);
	rc = vc_trust_list_load_path(&l, list_path, &o);
	if (rc) {
		vc_trust_key_destroy(k);
		return fail(list_path, rc);
	}
	rc = vc_trust_list_sign(l, k);
	if (!rc)
		rc = vc_trust_list_save(l, list_path);
	vc_trust_list_destroy(l);
	vc_trust_key_destroy(k);
	return rc ? fail(rc == -EINVAL ? key_path : list_path, rc) : 0;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{"log", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *pub = NULL, *log_path = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "+p:h", opts, NULL)) != -1) {
		if (c == 'p')
			pub = optarg;
		else if (c == 'l')
			log_path = optarg;
		else if (c == 'h')
			return fputs(usage_verify, stdout), 0;
		else
			return fputs(usage_verify, stderr), 2;
	}
	if (argc - optind < 1)
		return usage_error(usage_verify, "verify needs a LIST");
	const char *list_path = argv[optind++];
	const char *const inputs[] = {list_path, pub};
	if (log_path && output_is_not_an_input(log_path, "--log", argv + optind, argc - optind,
					       inputs, pub ? 2 : 1))
		return 1;

	vc_trust_key *k = NULL;
	vc_trust_list *l = NULL;
	vc_trust_chain *chain = NULL;
	vc_trust_log *log = NULL;
	int rc = 0, status = 1;

	if (pub && (rc = vc_trust_key_load(&k, pub)))
		return fail(pub, rc);
	VC_OPTS(vc_trust_load_opts, o, .key = k, .flags = k ? 0 : VC_TRUST_LOAD_UNVERIFIED);
	if ((rc = vc_trust_list_load_path(&l, list_path, &o))) {
		fail(list_path, rc);
		goto out;
	}
	if (!k)
		fprintf(stderr, "%s: %s: warning: signature not checked (no -p PUBLIC.pem)\n",
			prog, list_path);
	if ((rc = vc_trust_chain_create(&chain, l)) ||
	    (log_path && ((rc = vc_trust_log_create(&log, vc_trust_list_alg(l))) ||
			  (rc = vc_trust_chain_set_log(chain, log, VC_TRUST_PCR_DEFAULT))))) {
		fail(list_path, rc);
		goto out;
	}
	for (int i = optind; i < argc; i++) {
		char *name, *file;
		struct vc_trust_verdict v;
		if (!split_stage(argv[i], &name, &file)) {
			status = usage_error(usage_verify, "stages are given as NAME=FILE");
			goto out;
		}
		memset(&v, 0, sizeof(v));
		rc = vc_trust_chain_verify_path(&v, chain, name, file);
		if (rc && v.refusal == VC_TRUST_OK && !v.name[0]) { /* reading FILE failed */
			fail(file, rc);
			goto save;
		}
		if (rc) {
			fail(name, rc);
			goto save;
		}
		printf("stage %s: OK\n", name);
	}
	struct vc_trust_verdict fin;
	rc = vc_trust_chain_finish(&fin, chain);
	if (rc) {
		fail(list_path, rc);
		goto save;
	}
	uint8_t pcr[VC_TRUST_DIGEST_MAX];
	char pcr_hex[2 * VC_TRUST_DIGEST_MAX + 1];
	unsigned n = vc_trust_chain_pcr(pcr, chain);
	hex(pcr, n, pcr_hex);
	printf("%s: %u stages verified in order%s; PCR %u %s: %s\n", list_path,
	       vc_trust_list_count(l), k ? ", signature OK" : "", VC_TRUST_PCR_DEFAULT,
	       vc_trust_list_alg(l) == VC_TRUST_ALG_SHA384 ? "sha384" : "sha256", pcr_hex);
	status = 0;
save:
	if (log_path && (rc = vc_trust_log_save(log, log_path)) != 0) {
		fail(log_path, rc);
		status = 1;
	}
out:
	vc_trust_log_destroy(log);
	vc_trust_chain_destroy(chain);
	vc_trust_list_destroy(l);
	vc_trust_key_destroy(k);
	return status;
}

static int cmd_show(int argc, char **argv)
{
	if (wants_help(argc, argv))
		return fputs(usage_show, stdout), 0;
	if (argc != 2)
		return usage_error(usage_show, "show needs one LIST");
	vc_trust_list *l;
	VC_OPTS(vc_trust_load_opts, o, .flags = VC_TRUST_LOAD_UNVERIFIED);
	int rc = vc_trust_list_load_path(&l, argv[1], &o);
	if (rc)
		return fail(argv[1], rc);
	long n = vc_trust_list_text(l, NULL, 0);
	char *text = n > 0 ? malloc((size_t)n + 1) : NULL;
	if (text && vc_trust_list_text(l, text, (size_t)n + 1) == n)
		fputs(text, stdout);
	free(text);
	vc_trust_list_destroy(l);
	return text ? 0 : fail(argv[1], -ENOMEM);
}

static int cmd_log(int argc, char **argv)
{
	if (wants_help(argc, argv))
		return fputs(usage_log, stdout), 0;
	if (argc != 2)
		return usage_error(usage_log, "log needs one EVENTLOG");
	vc_trust_log *log;
	int rc = vc_trust_log_load_path(&log, argv[1]);
	if (rc)
		return fail(argv[1], rc);
	const char *alg = vc_trust_log_alg(log) == VC_TRUST_ALG_SHA384 ? "sha384" : "sha256";
	bool used[VC_TRUST_PCR_COUNT] = {false};
	printf("# %s: %u events, %s bank\n", argv[1], vc_trust_log_count(log), alg);
	for (unsigned i = 0; i < vc_trust_log_count(log); i++) {
		struct vc_trust_event ev;
		char d[2 * VC_TRUST_DIGEST_MAX + 1];
		vc_trust_log_event(&ev, log, i);
		hex(ev.digest, ev.digest_size, d);
		used[ev.pcr] = true;
		printf("event %u: pcr %u type %s %s:%s \"", i, ev.pcr,
		       ev.type == VC_TRUST_EV_IPL ? "EV_IPL" : "other", alg, d);
		for (uint32_t j = 0; j < ev.data_size; j++)
			putchar(ev.data[j] >= 0x20 && ev.data[j] < 0x7f && ev.data[j] != '"'
					? ev.data[j] : '?');
		printf("\"\n");
	}
	for (uint32_t p = 0; p < VC_TRUST_PCR_COUNT; p++) {
		if (!used[p])
			continue;
		uint8_t v[VC_TRUST_DIGEST_MAX];
		char d[2 * VC_TRUST_DIGEST_MAX + 1];
		hex(v, vc_trust_log_pcr(v, log, p), d);
		printf("pcr %u %s: %s\n", p, alg, d);
	}
	vc_trust_log_destroy(log);
	return 0;
}

int main(int argc, char **argv)
{
	tool_capture_errors("trust: ");
	tool_check_stdout_at_exit(prog);
	if (argc < 2)
		return fputs(usage_main, stderr), 2;
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help"))
		return fputs(usage_main, stdout), 0;
	if (!strcmp(cmd, "--version"))
		return printf("vc-measure (libvirtcore) %s\n", vc_version_string()), 0;
	argc--, argv++;
	if (!strcmp(cmd, "keygen"))
		return cmd_keygen(argc, argv);
	if (!strcmp(cmd, "make"))
		return cmd_make(argc, argv);
	if (!strcmp(cmd, "sign"))
		return cmd_sign(argc, argv);
	if (!strcmp(cmd, "verify"))
		return cmd_verify(argc, argv);
	if (!strcmp(cmd, "show"))
		return cmd_show(argc, argv);
	if (!strcmp(cmd, "log"))
		return cmd_log(argc, argv);
	fprintf(stderr, "%s: unknown command \"%s\"\n%s", prog, cmd, usage_main);
	return 2;
}
