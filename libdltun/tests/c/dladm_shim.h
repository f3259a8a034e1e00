/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Just enough of dladm.c's surroundings (its helpers, libdladm's property
 * parser, libofmt) to compile and run the tun subcommands of
 * patches/illumos-gate/0001-dladm-tun-subcommands.patch on Linux against
 * libdltun built with the `sim` feature.  Our own minimal versions, with
 * the signatures of illumos-gate's; die() returns to the test driver
 * instead of exiting.  All handles share one simulated host, as all
 * dladm invocations on one machine share the system.
 */

#ifndef _DLADM_SHIM_H
#define	_DLADM_SHIM_H

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <libdltun.h>
#include "dltun_sim.h"

typedef enum { B_FALSE = 0, B_TRUE = 1 } boolean_t;
typedef unsigned int uint_t;

#define	MAXLINKNAMELEN		32
#define	DLADM_STRSIZE		256
#define	DLADM_MAX_ARG_CNT	32
#define	DLADM_MAX_ARG_VALS	64
#define	BUFLEN(lim, ptr)	(((lim) > (ptr)) ? ((lim) - (ptr)) : 0)

static jmp_buf shim_jmp;
static int shim_exit_status;

static void
shim_leave(int status)
{
	shim_exit_status = status;
	longjmp(shim_jmp, 1);
}

#define	exit(status)	shim_leave(status)

static void
die(const char *format, ...)
{
	va_list alist;

	va_start(alist, format);
	(void) fprintf(stdout, "dladm: ");
	(void) vfprintf(stdout, format, alist);
	(void) fprintf(stdout, "\n");
	va_end(alist);
	shim_leave(1);
}

static void
warn(const char *format, ...)
{
	va_list alist;

	va_start(alist, format);
	(void) fprintf(stdout, "dladm: warning: ");
	(void) vfprintf(stdout, format, alist);
	(void) fprintf(stdout, "\n");
	va_end(alist);
}

static void
usage(void)
{
	(void) printf("usage\n");
	shim_leave(1);
}

static void
die_optdup(int opt)
{
	die("the option -%c cannot be specified more than once", opt);
}

static void
die_opterr(int opt, int opterr, const char *use)
{
	(void) use;
	if (opterr == ':')
		die("option '-%c' requires a value", opt);
	die("unrecognized option '-%c'", opt);
}

static void
altroot_cmd(char *altroot, int argc, char *argv[])
{
	int i;

	(void) printf("altroot %s:", altroot);
	for (i = 0; i < argc; i++)
		(void) printf(" %s", argv[i]);
	(void) printf("\n");
	shim_leave(0);
}

static const struct option show_lopts[] = {
	{"parsable",	no_argument,		0, 'p'},
	{"output",	required_argument,	0, 'o'},
	{"persistent",	no_argument,		0, 'P'},
	{ 0, 0, 0, 0 }
};

/* libdladm: "name=value[,value...],name=..." */
typedef enum {
	DLADM_STATUS_OK = 0, DLADM_STATUS_BADARG, DLADM_STATUS_NOTFOUND,
	DLADM_STATUS_BADVAL
} dladm_status_t;

typedef struct dladm_arg_info {
	const char	*ai_name;
	char		*ai_val[DLADM_MAX_ARG_VALS];
	uint_t		ai_count;
} dladm_arg_info_t;

typedef struct dladm_arg_list {
	dladm_arg_info_t	al_info[DLADM_MAX_ARG_CNT];
	uint_t			al_count;
	char			*al_buf;
} dladm_arg_list_t;

/*
 * dladm_parse_link_props as libdladm parses (linkprop.c hands the string
 * to dladm_parse_args in libdladm.c): '=' ends a name, ',' ends a value
 * (or a name without values); a name or value that is empty when '=' or
 * ',' ends it makes the whole list invalid ("owner=," and ",," fail; a
 * lone trailing "owner=" or "mtu=1," does not).  Written for the tests,
 * with the same outcomes, so the patch meets libdladm's rule here.
 */
static dladm_status_t
dladm_parse_link_props(char *str, dladm_arg_list_t **listp, boolean_t novalues)
{
	dladm_arg_list_t *list;
	dladm_arg_info_t *cur = NULL;
	char *p, *start;

	*listp = NULL;
	if (str == NULL)
		return (DLADM_STATUS_BADARG);
	if (*str == '\0')
		return (DLADM_STATUS_OK);
	if ((list = calloc(1, sizeof (*list))) == NULL ||
	    (list->al_buf = strdup(str)) == NULL)
		return (DLADM_STATUS_BADARG);
	start = list->al_buf;
	for (p = list->al_buf; ; p++) {
		char c = *p;
		int sep = (c == '=' || c == ',');

		if (!sep && c != '\0')
			continue;
		if (sep && p == start)
			goto bad;	/* empty segment before '=' or ',' */
		*p = '\0';
		if (p != start || sep) {
			if (cur != NULL && c != '=') {
				if (novalues || cur->ai_count == DLADM_MAX_ARG_VALS)
					goto bad;
				cur->ai_val[cur->ai_count++] = start;
			} else {
				if (list->al_count == DLADM_MAX_ARG_CNT)
					goto bad;
				cur = &list->al_info[list->al_count++];
				cur->ai_name = start;
				cur->ai_count = 0;
				if (c != '=')
					cur = NULL;
			}
		}
		if (c == '\0')
			break;
		start = p + 1;
	}
	*listp = list;
	return (DLADM_STATUS_OK);
bad:
	free(list->al_buf);
	free(list);
	return (DLADM_STATUS_BADARG);
}

static void
dladm_free_props(dladm_arg_list_t *list)
{
	if (list != NULL) {
		free(list->al_buf);
		free(list);
	}
}

/* libofmt */
typedef struct ofmt_arg_s {
	uint_t	ofmt_id;
	uint_t	ofmt_width;
	uint_t	ofmt_index;
	void	*ofmt_cbarg;
} ofmt_arg_t;

typedef boolean_t ofmt_cb_t(ofmt_arg_t *, char *, uint_t);

typedef struct ofmt_field_s {
	char		*of_name;
	uint_t		of_width;
	uint_t		of_id;
	ofmt_cb_t	*of_cb;
} ofmt_field_t;

typedef enum { OFMT_SUCCESS = 0, OFMT_EBADFIELDS } ofmt_status_t;

#define	OFMT_PARSABLE	0x1
#define	SHIM_MAXFIELDS	16

typedef struct shim_ofmt {
	const ofmt_field_t	*so_fields[SHIM_MAXFIELDS];
	int			so_nfields;
	boolean_t		so_parsable;
	boolean_t		so_header_done;
} *ofmt_handle_t;

static ofmt_status_t
ofmt_open(const char *str, const ofmt_field_t *fields, int flags,
    uint_t maxcols, ofmt_handle_t *ofmtp)
{
	ofmt_handle_t o = calloc(1, sizeof (*o));
	char buf[256], *tok, *save = NULL;
	const ofmt_field_t *f;

	(void) maxcols;
	*ofmtp = o;
	if (o == NULL)
		return (OFMT_EBADFIELDS);
	o->so_parsable = (flags & OFMT_PARSABLE) ? B_TRUE : B_FALSE;
	(void) snprintf(buf, sizeof (buf), "%s", str);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		for (f = fields; f->of_name != NULL; f++) {
			if (strcasecmp(f->of_name, tok) == 0)
				break;
		}
		if (f->of_name == NULL || o->so_nfields == SHIM_MAXFIELDS)
			return (OFMT_EBADFIELDS);
		o->so_fields[o->so_nfields++] = f;
	}
	return (OFMT_SUCCESS);
}

static void
ofmt_check(ofmt_status_t oferr, boolean_t parsable, ofmt_handle_t ofmt,
    void (*diefn)(const char *, ...), void (*warnfn)(const char *, ...))
{
	(void) parsable;
	(void) ofmt;
	(void) warnfn;
	if (oferr != OFMT_SUCCESS)
		diefn("invalid output field(s)");
}

static void
ofmt_print(ofmt_handle_t o, void *cbarg)
{
	char val[256];
	const char *p;
	ofmt_arg_t arg;
	int i;

	if (!o->so_parsable && !o->so_header_done) {
		for (i = 0; i < o->so_nfields; i++)
			(void) printf("%-*s", (int)o->so_fields[i]->of_width,
			    o->so_fields[i]->of_name);
		(void) printf("\n");
		o->so_header_done = B_TRUE;
	}
	for (i = 0; i < o->so_nfields; i++) {
		arg.ofmt_id = o->so_fields[i]->of_id;
		arg.ofmt_width = o->so_fields[i]->of_width;
		arg.ofmt_index = 0;
		arg.ofmt_cbarg = cbarg;
		val[0] = '\0';
		(void) o->so_fields[i]->of_cb(&arg, val, sizeof (val));
		if (!o->so_parsable) {
			(void) printf("%-*s", (int)arg.ofmt_width, val);
			continue;
		}
		if (i > 0)
			(void) printf(":");
		for (p = val; *p != '\0'; p++) {
			if (*p == ':' && o->so_nfields > 1)
				(void) printf("\\");
			(void) printf("%c", *p);
		}
	}
	(void) printf("\n");
}

static void
ofmt_close(ofmt_handle_t o)
{
	free(o);
}

static boolean_t
print_default_cb(ofmt_arg_t *ofarg, char *buf, uint_t bufsize)
{
	char *value = (char *)ofarg->ofmt_cbarg + ofarg->ofmt_id;

	(void) snprintf(buf, bufsize, "%s", value);
	return (B_TRUE);
}

/* glibc before 2.38 lacks these. */
static size_t
shim_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		(void) memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return (len);
}

static size_t
shim_strlcat(char *dst, const char *src, size_t size)
{
	size_t used = strnlen(dst, size);

	if (used == size)
		return (size + strlen(src));
	return (used + shim_strlcpy(dst + used, src, size - used));
}

#define	strlcpy	shim_strlcpy
#define	strlcat	shim_strlcat

/* One simulated host for every subcommand of a test run. */
static dltun_handle_t *shim_host;

static dltun_status_t
shim_dltun_open(dltun_handle_t **hp)
{
	dltun_status_t st = DLTUN_STATUS_OK;

	if (shim_host == NULL)
		st = dltun_open(&shim_host);
	*hp = shim_host;
	return (st);
}

static dltun_status_t
shim_dltun_close(dltun_handle_t *h)
{
	(void) h;
	return (DLTUN_STATUS_OK);
}

#define	dltun_open	shim_dltun_open
#define	dltun_close	shim_dltun_close

/*
 * dladm's libdladm handle and dladm_set_linkprop, for the link properties
 * outside the tun table: this libdladm knows "maxbw" (any value) and
 * "priority" (low, medium, high), says "not found" for other names and
 * "bad value" for other priorities, as linkprop.c does, and prints what
 * it set.
 */
typedef struct shim_dladm *dladm_handle_t;
typedef uint32_t datalink_id_t;
#define	DLADM_OPT_ACTIVE	0x00000001
#define	DLADM_OPT_PERSIST	0x00000002

static dladm_handle_t handle;

static const char *
shim_status2str(dladm_status_t status)
{
	switch (status) {
	case DLADM_STATUS_OK:
		return ("ok");
	case DLADM_STATUS_NOTFOUND:
		return ("object not found");
	case DLADM_STATUS_BADVAL:
		return ("invalid value");
	default:
		return ("invalid argument");
	}
}

static dladm_status_t
dladm_set_linkprop(dladm_handle_t h, datalink_id_t linkid, const char *name,
    char **vals, uint_t count, uint32_t flags)
{
	(void) h;
	(void) linkid;
	if (strcmp(name, "maxbw") != 0 && strcmp(name, "priority") != 0)
		return (DLADM_STATUS_NOTFOUND);
	if (count != 1 || (strcmp(name, "priority") == 0 &&
	    strcmp(vals[0], "low") != 0 && strcmp(vals[0], "medium") != 0 &&
	    strcmp(vals[0], "high") != 0))
		return (DLADM_STATUS_BADVAL);
	(void) printf("(libdladm: %s=%s%s)\n", name, vals[0],
	    (flags & DLADM_OPT_PERSIST) != 0 ? ", persistent" : "");
	return (DLADM_STATUS_OK);
}

static void
die_dlerr(dladm_status_t err, const char *format, ...)
{
	va_list alist;

	va_start(alist, format);
	(void) fprintf(stdout, "dladm: ");
	(void) vfprintf(stdout, format, alist);
	(void) fprintf(stdout, ": %s\n", shim_status2str(err));
	va_end(alist);
	shim_leave(1);
}

#endif	/* _DLADM_SHIM_H */
