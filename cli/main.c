/*
 * main.c - the `dpf` command: dispatch to a subcommand, global usage,
 * `dpf help [COMMAND]` and `dpf --version`.
 *
 * Every command returns CLI_OK (0), CLI_BAD_INPUT (1, with a message that
 * says what and where) or CLI_USAGE (2, usage on stderr).  Help asked for
 * (`dpf --help`, `dpf help CMD`, `dpf CMD --help`) goes to stdout with 0.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <llvm-c/Core.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/qemu.h"
#include "cli/trace.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *f);
	const char *summary;
};

static const struct command commands[] = {
	{"check", cli_check_main, cli_check_usage,
	 "parse filter files and install them; report errors with positions"},
	{"compile", cli_compile_main, cli_compile_usage,
	 "write a filter file as readable IR, binary IR, a trie dump or its x86 code"},
	{"replay", cli_replay_main, cli_replay_usage,
	 "classify every packet of a capture; count and time per filter"},
	{"gen", cli_gen_main, cli_gen_usage,
	 "generate a deterministic Ethernet capture and its flow filters"},
	{"boot", cli_boot_main, cli_boot_usage,
	 "replay a capture through the kernel-shim booted under QEMU"},
	{"ash", cli_ash_main, cli_ash_usage,
	 "check and run handlers (eBPF XDP programs) on a capture"},
	{"help", NULL, NULL, "print the usage of dpf or of one command"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
	fputs("usage: dpf COMMAND [OPTIONS] [ARGS]\n"
	      "       dpf help [COMMAND]\n"
	      "       dpf --version\n"
	      "\n"
	      "DPF compiles declarative packet filters into one trie and\n"
	      "classifies packets against it.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "Run 'dpf help COMMAND' or 'dpf COMMAND --help' for its options.\n"
	      "\n"
	      "Exit status: 0 success, 1 bad input (the message says what and\n"
	      "where), 2 usage error.\n",
	      f);
}

/* dpf --version: what this dpf is built with, and the kernel image
 * `dpf boot` would use. */
static int version(void)
{
	unsigned maj, min, pat;
	LLVMGetVersion(&maj, &min, &pat);
	printf("dpf %s\n"
	       "classifier engines: x86 (x86-64 code generator), interp, naive\n"
	       "handler engines: x86 (x86-64 code generator), interp, checked\n"
	       "LLVM %u.%u.%u (disassembly)\n"
	       "%s\n"
	       "libbpf %s (handler objects)\n",
	       DPF_VERSION, maj, min, pat, cli_pcap_version(),
	       libbpf_version_string());
	char k[4096], err[4600];
	if (cli_kernel_find(NULL, k, sizeof k, err, sizeof err) == 0)
		printf("kernel image: %s\n", k);
	else
		printf("kernel image: none (%s)\n", err);
	return CLI_OK;
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int help(int argc, char **argv)
{
	if (argc == 2 || (argc == 3 && strcmp(argv[2], "help") == 0)) {
		usage(stdout);
		return CLI_OK;
	}
	if (argc > 3) {
		fputs("dpf help: give at most one command\n\n", stderr);
		usage(stderr);
		return CLI_USAGE;
	}
	const struct command *c = find(argv[2]);
	if (!c) {
		fprintf(stderr, "dpf help: unknown command '%s'\n\n", argv[2]);
		usage(stderr);
		return CLI_USAGE;
	}
	c->usage(stdout);
	return CLI_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("dpf: no command given\n\n", stderr);
		usage(stderr);
		return CLI_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	if (strcmp(cmd, "--version") == 0) {
		if (argc > 2) {
			fputs("dpf: --version takes no arguments\n\n", stderr);
			usage(stderr);
			return CLI_USAGE;
		}
		return version();
	}
	if (strcmp(cmd, "help") == 0)
		return help(argc, argv);
	const struct command *c = find(cmd);
	if (!c) {
		if (cmd[0] == '-')
			fprintf(stderr, "dpf: unknown option '%s'\n\n", cmd);
		else
			fprintf(stderr, "dpf: unknown command '%s'\n\n", cmd);
		usage(stderr);
		return CLI_USAGE;
	}
	int rc = c->run(argc - 1, argv + 1);
	/* a command may have flushed already: the error flag stays set */
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CLI_OK) {
		fprintf(stderr, "dpf: standard output: %s\n",
		        errno ? strerror(errno) : "write error");
		rc = CLI_BAD_INPUT;
	}
	return rc;
}
