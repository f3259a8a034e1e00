/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Reads the address of a symbol some supported release lacks
 * (mac_getinfo, allowlisted `weak`).  Built as is, the reference is weak
 * (krtld loads the module without it); with -DSTRONG_WITNESS it is
 * strong, which modload fails on such a release; with -DCALL_WITNESS it
 * is also called (a PC-relative relocation krtld would skip, leaving a
 * call to the next instruction).
 */
struct modlinkage;
struct modinfo;
extern int mod_install(struct modlinkage *);
extern int mod_remove(struct modlinkage *);
extern int mod_info(struct modlinkage *, struct modinfo *);
#ifndef STRONG_WITNESS
#pragma weak mac_getinfo
#endif
extern int mac_getinfo(void *, int, void *, void **);

static void *linkage_storage[4];
static struct modlinkage *const linkage = (struct modlinkage *)linkage_storage;
void *const witness = (void *)&mac_getinfo;

int _init(void) {
#ifdef CALL_WITNESS
    if (witness != 0)
        (void) mac_getinfo(0, 0, 0, 0);
#endif
    if (witness == 0)
        return mod_install(linkage);
    return mod_install(linkage);
}
int _info(struct modinfo *info) { return mod_info(linkage, info); }
int _fini(void) { return mod_remove(linkage); }
