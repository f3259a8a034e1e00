/* SPDX-License-Identifier: MPL-2.0 */
/* A module-shaped object that calls only allowlisted kernel functions. */
struct modlinkage;
struct modinfo;
extern int mod_install(struct modlinkage *);
extern int mod_remove(struct modlinkage *);
extern int mod_info(struct modlinkage *, struct modinfo *);
extern void cmn_err(int, const char *, ...);

static void *linkage_storage[4];
static struct modlinkage *const linkage = (struct modlinkage *)linkage_storage;
char _depends_on[] = "misc/mac misc/dls drv/dld drv/random";

int _init(void) {
    cmn_err(1, "clean: loading");
    return mod_install(linkage);
}
int _info(struct modinfo *info) { return mod_info(linkage, info); }
int _fini(void) { return mod_remove(linkage); }
