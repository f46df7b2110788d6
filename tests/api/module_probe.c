// SPDX-License-Identifier: MIT
// Calls one function of every heavy module through the shared library and prints, per
// module, vc_has_module(), the call's result and the error detail, for
// check_modules.py to judge (the library it runs with is chosen by LD_LIBRARY_PATH).
#include <stdio.h>
#include <string.h>

#include <virtcore/virtcore.h>

static void report(const char *module, int rc)
{
	printf("%s\t%d\t%d\t%s\n", module, vc_has_module(module), rc, vc_error_last());
}

int main(void)
{
	vc_pack *p = NULL;
	vc_error_clear();
	report("pack", vc_pack_open(&p, "/nonexistent/disk.img"));
	vc_pack_close(p);

	vc_trust_list *l = NULL;
	vc_error_clear();
	report("trust", vc_trust_list_load_path(&l, "/nonexistent/list", NULL));
	vc_trust_list_destroy(l);

	vc_rewrite *m = NULL;
	vc_error_clear();
	report("rewrite", vc_rewrite_load_path(&m, "/nonexistent/module.o"));
	vc_rewrite_destroy(m);

	vc_trace *t = NULL;
	VC_OPTS(vc_trace_opts, o, .pid = -1);
	vc_error_clear();
	report("trace", vc_trace_open(&t, &o));
	vc_trace_close(t);

	/* the core is always there */
	vc_gmem *gm = NULL;
	int rc = vc_gmem_create(&gm);
	vc_gmem_destroy(gm);
	report("gmem", rc);
	printf("unknown\t%d\n", vc_has_module("no-such-module"));
	return 0;
}
