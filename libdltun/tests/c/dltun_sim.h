/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Test hooks of libdltun built with the `sim` feature (never in a
 * production library): each handle is its own simulated host.
 */

#ifndef _DLTUN_SIM_H
#define	_DLTUN_SIM_H

#include <libdltun.h>

/* Reboot the handle's host: kernel links go, configuration stays. */
extern dltun_status_t dltun_sim_reboot(dltun_handle_t *handle);
/* A simulated daemon attaches one queue to link; its pid goes to *pidp. */
extern dltun_status_t dltun_sim_attach(dltun_handle_t *handle,
    const char *link, int32_t *pidp);
/* The driver's next create fails. */
extern dltun_status_t dltun_sim_fail_next_create(dltun_handle_t *handle);
/* A panic inside the library, caught at the boundary. */
extern dltun_status_t dltun_sim_panic(dltun_handle_t *handle);

#endif	/* _DLTUN_SIM_H */
