/* SPDX-License-Identifier: MPL-2.0 */
/* Forgets _init: modload would refuse it. */
int _info(void *info) { (void)info; return 0; }
int _fini(void) { return 0; }
