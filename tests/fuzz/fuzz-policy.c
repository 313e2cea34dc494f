/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: any bytes as a policy file, then decisions for fixed
 * logins. Beyond memory safety (ASan/UBSan), it checks the promises callers
 * rely on: a policy is returned exactly when there are no diagnostics, every
 * decision keeps pid and mount, and root is never isolated unless named.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "settings-keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const alice_groups[] = { "alice", "staff", "lab-42" };

static const struct nscell_login logins[] = {
	{ .user = "alice", .uid = 1000, .groups = alice_groups, .n_groups = 3,
	  .service = "sshd", .rhost = "192.0.2.7", .tty = "ssh" },
	{ .user = "root", .uid = 0, .groups = (const char *const[]) { "root" }, .n_groups = 1,
	  .service = "su", .tty = "/dev/pts/1" },
	{ .user = "nobody", .uid = 65534 },
};

static void check_decision(const struct nscell_policy *p, const struct nscell_login *l)
{
	struct nscell_decision d;

	if (nscell_policy_decide(p, l, &d) != 0)
		abort();
	if (d.root_exempt && (l->uid != 0 || d.settings.isolate))
		abort();
	if (l->uid == 0 && d.settings.isolate && !d.rule.file)
		abort(); /* root isolated without a block that names it */
	if (d.settings.isolate && (d.settings.namespaces & (NSCELL_NS_PID | NSCELL_NS_MNT)) !=
					  (NSCELL_NS_PID | NSCELL_NS_MNT))
		abort();
	if (d.settings.hostname[0] && d.settings.isolate && !(d.settings.namespaces & NSCELL_NS_UTS))
		abort();
	if (memchr(d.settings.hostname, '\0', sizeof(d.settings.hostname)) == NULL ||
	    memchr(d.settings.persistent_root, '\0', sizeof(d.settings.persistent_root)) == NULL)
		abort();

	for (int k = 0; k < _NSCELL_KEY_MAX; k++) {
		char *s = NULL;
		if (nscell_settings_format_key(&d.settings, k, &s) < 0)
			abort();
		free(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nscell_policy *p = NULL;
	struct nscell_diag diag = {};
	int r;

	r = nscell_policy_parse_buffer("fuzz.conf", (const char *) data, size, &p, &diag);
	if (r == 0) {
		if (!p || diag.n_lines != 0)
			abort();
		for (size_t i = 0; i < sizeof(logins) / sizeof(logins[0]); i++)
			check_decision(p, &logins[i]);
	} else {
		if (p || (r == -EINVAL && diag.n_lines == 0))
			abort();
		for (size_t i = 0; i < diag.n_lines; i++) {
			const char *line = diag.lines[i];
			if (!line || (strncmp(line, "fuzz.conf:", 10) != 0 && !strstr(line, "more errors not shown")))
				abort();
		}
	}

	nscell_policy_free(p);
	nscell_diag_free(&diag);
	return 0;
}
