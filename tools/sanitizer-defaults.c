/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Linked into the ASan build by tools/test-sanitized. Programs that run with
 * a cleared environment (the setuid helper) or as a user inside a cell (the
 * CLI) cannot be given ASAN_OPTIONS, and LeakSanitizer cannot trace a
 * non-dumpable process: it would turn every exit into "LeakSanitizer has
 * encountered a fatal error". So leak checking is off by default and on
 * where ASAN_OPTIONS says so (the unit tests, run by meson with
 * detect_leaks=1). Everything else ASan and UBSan check stays on.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0:abort_on_error=1";
}

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}
