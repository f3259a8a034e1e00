/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Run the tun subcommands of the dladm patch (tun_block.c: the lines the
 * patch adds at the end of dladm.c, extracted by the Rust test) the way
 * an administrator would, against libdltun on one simulated host.  Each
 * command line is echoed, then its output, then its exit status.
 */

#include "dladm_shim.h"
#include "tun_block.c"

typedef void cmdfn_t(int, char **, const char *);

static const struct {
	const char	*name;
	cmdfn_t		*fn;
} subcommands[] = {
	{ "create-tun",	do_create_tun },
	{ "delete-tun",	do_delete_tun },
	{ "modify-tun",	do_modify_tun },
	{ "show-tun",	do_show_tun },
	{ "up-tun",	do_up_tun },
};

/* Run "dladm <line>" (words separated by single spaces). */
static void
dladm(const char *line)
{
	static char buf[512];
	char *argv[32], *save = NULL, *tok;
	int argc = 0;
	size_t i;

	(void) printf("$ dladm %s\n", line);
	(void) snprintf(buf, sizeof (buf), "%s", line);
	for (tok = strtok_r(buf, " ", &save); tok != NULL && argc < 31;
	    tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	for (i = 0; i < sizeof (subcommands) / sizeof (subcommands[0]); i++) {
		if (strcmp(argv[0], subcommands[i].name) != 0)
			continue;
		optind = 0;	/* glibc: also reset the scan state */
		shim_exit_status = 0;
		if (setjmp(shim_jmp) == 0)
			subcommands[i].fn(argc, argv, "usage");
		(void) fflush(stdout);
		if (shim_exit_status != 0)
			(void) printf("(exit %d)\n", shim_exit_status);
		return;
	}
	(void) printf("unknown subcommand %s\n", argv[0]);
}

int
main(void)
{
	int32_t pid;

	dladm("create-tun -T tap -p mtu=1400,mac-address=2:8:20:aa:bb:cc,"
	    "owner=0 tap7");
	dladm("show-tun -p -o link,mode,macaddress tap7");
	dladm("create-tun -t -T tun test0");
	dladm("show-tun -p -o link,mode,state,mtu,owner,group,zone,queues,pids");
	dladm("show-tun -P -p -o link,mtu");
	dladm("modify-tun -p mtu=9000,owner= tap7");
	dladm("show-tun -p -o link,mtu,owner tap7");
	/* Resets anywhere in the list and in several -p (issue 15). */
	dladm("modify-tun -p owner=0,group=0 tap7");
	dladm("modify-tun -p owner=,mtu=9000 -p group= tap7");
	dladm("show-tun -p -o link,mtu,owner,group tap7");
	dladm("modify-tun -t -p mtu=1280 tap7");
	dladm("show-tun -p -o link,mtu tap7");
	dladm("show-tun -P -p -o link,mtu tap7");
	dladm("show-tun -o link,mode,mtu tap7");

	/* Any other link property, as create-vnic -p (issue 15). */
	dladm("create-tun -T tun -p maxbw=10M,mtu=1400 -p priority=low lp0");
	dladm("show-tun -p -o link,mtu lp0");
	dladm("modify-tun -p priority=high lp0");
	dladm("modify-tun -t -p mtu=1500,maxbw=5M lp0");
	dladm("create-tun -T tun -p priority=urgent lp1");
	dladm("show-tun -p -o link lp1");
	dladm("create-tun -T tun -p maxbw=1M,maxbw=2M lp1");
	dladm("modify-tun -p maxbw= lp0");
	dladm("modify-tun -p speed=10 lp0");
	dladm("delete-tun lp0");

	/* Bad input. */
	dladm("create-tun -T tun 0bad");
	dladm("create-tun -T tap -p mtu=100 tap8");
	dladm("create-tun -T tap -p mtu=abc tap8");
	dladm("create-tun -T tap -p speed=10 tap8");
	dladm("create-tun -T tap -p mtu=1400,mtu=1500 tap8");
	dladm("create-tun -T tap -p mac-address=1:2:3:4:5:6 tap8");
	dladm("create-tun -T tun -p mac-address=2:0:0:0:0:1 tun9");
	dladm("create-tun -T tap -p owner=nosuchuser0 tap8");
	dladm("create-tun -T tap -p mtu= tap8");
	dladm("create-tun -T tap -p owner= tap8");
	dladm("create-tun -T bogus tap8");
	dladm("create-tun -T tun -T tap tap8");
	dladm("create-tun tap8");
	dladm("create-tun -T tun -x tap8");
	dladm("create-tun -T tap tap7");
	dladm("delete-tun nope0");
	dladm("modify-tun tap7");
	dladm("modify-tun -p mtu=9000 nope0");
	dladm("show-tun nope0");
	dladm("show-tun -p");
	dladm("show-tun -o bogus");
	dladm("show-tun -P test0");
	dladm("show-tun -p -o link");

	/* -R: the command goes to the alternate root, nothing is made. */
	dladm("create-tun -R /a -T tun vpn0");
	dladm("delete-tun -R /a tap7");
	dladm("show-tun -p -o link");

	/* Busy links need -f; a temporary delete keeps the configuration. */
	(void) printf("# a daemon attaches to tap7: %d\n",
	    (int)dltun_sim_attach(shim_host, "tap7", &pid));
	dladm("show-tun -p -o link,state,queues tap7");
	dladm("delete-tun tap7");
	dladm("delete-tun -t -f tap7");
	dladm("show-tun -p -o link,state,mtu,queues");
	dladm("up-tun tap7");
	dladm("show-tun -p -o link,state,mtu tap7");
	dladm("delete-tun -t test0");
	dladm("delete-tun -f tap7");

	/* Boot: persistent links come back with up-tun. */
	dladm("create-tun -T tun -p mtu=1420 vpn0");
	(void) printf("# reboot: %d\n", (int)dltun_sim_reboot(shim_host));
	dladm("show-tun -p -o link,state,mtu");
	dladm("up-tun");
	dladm("show-tun -p -o link,state,mtu");
	dladm("up-tun");
	dladm("up-tun nope0");
	(void) printf("# reboot: %d\n", (int)dltun_sim_reboot(shim_host));
	(void) printf("# next create fails: %d\n",
	    (int)dltun_sim_fail_next_create(shim_host));
	dladm("up-tun");
	dladm("up-tun vpn0");
	dladm("delete-tun vpn0");
	dladm("show-tun -p -o link");

	(void) printf("# close: %d\n", (int)shim_dltun_close(shim_host));
	return (dltun_close == shim_dltun_close ? 0 : 1);
}
