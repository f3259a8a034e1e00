// SPDX-License-Identifier: MPL-2.0
//! tunneld: placeholder until the daemon lands.
