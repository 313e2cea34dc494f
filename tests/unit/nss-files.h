/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An NSS layer for tests, read from DIR/passwd and DIR/group in the usual
 * formats. Only test builds link it; installed binaries use libc's NSS.
 */
#pragma once

#include "identity.h"

/* Ops that read from dir (kept, not copied). */
const struct nscell_nss_ops *nscell_test_nss_files(const char *dir);
