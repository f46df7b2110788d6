// SPDX-License-Identifier: MIT
// Loading a heavy module's library on first use (util/module.h): found beside
// libvirtcore.so (in virtcore/ there, or right there in a build tree), checked to be of
// this very build, and kept for the life of the process.
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "module.h"
#include "modules-config.h"

struct loaded {
	pthread_once_t once;
	const struct vc__module *mod; /* NULL: not available, see why */
	char why[768];
};

static struct loaded loaded[VC__MODULE_COUNT] = {
	[0 ... VC__MODULE_COUNT - 1] = {.once = PTHREAD_ONCE_INIT},
};

static const struct vc__module_config *config_of(enum vc__module_id id)
{
	for (size_t i = 0; i < sizeof(vc__modules) / sizeof(vc__modules[0]); i++)
		if (vc__modules[i].lazy_id == (int)id)
			return &vc__modules[i];
	return NULL;
}

/* The directory libvirtcore.so was loaded from ("" if unknown). */
static void core_dir(char *dir, size_t len)
{
	Dl_info info;
	dir[0] = '\0';
	if (!dladdr((void *)vc__module_fn, &info) || !info.dli_fname)
		return;
	const char *slash = strrchr(info.dli_fname, '/');
	if (slash)
		snprintf(dir, len, "%.*s", (int)(slash - info.dli_fname), info.dli_fname);
}

static void *open_library(const char *file, char *why, size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	/* VIRTCORE_MODULE_DIR first (ignored in setuid programs), then beside the core. */
	const char *env = secure_getenv("VIRTCORE_MODULE_DIR");
	core_dir(dir, sizeof(dir));
	const char *tries[3] = {NULL, NULL, NULL};
	char buf[3][sizeof(path)];
	int n = 0;
	if (env && *env)
		snprintf(buf[n], sizeof(buf[n]), "%s/%s", env, file), tries[n] = buf[n], n++;
	if (dir[0]) {
		snprintf(buf[n], sizeof(buf[n]), "%s/virtcore/%s", dir, file), tries[n] = buf[n], n++;
		snprintf(buf[n], sizeof(buf[n]), "%s/%s", dir, file), tries[n] = buf[n], n++;
	}
	why[0] = '\0';
	for (int i = 0; i < n; i++) {
		void *h = dlopen(tries[i], RTLD_NOW | RTLD_LOCAL);
		if (h)
			return h;
		const char *err = dlerror();
		/* the telling failure is one that found the file but could not load it */
		if (err && !strstr(err, "No such file")) {
			snprintf(why, len, "cannot load %s: %s", file, err);
			return NULL;
		}
	}
	int at = snprintf(why, len, "cannot load %s: not found in", file);
	for (int i = 0; i < n && at > 0 && (size_t)at < len; i++) {
		const char *slash = strrchr(tries[i], '/');
		at += snprintf(why + at, len - (size_t)at, "%s %.*s", i ? "," : "",
			       (int)(slash - tries[i]), tries[i]);
	}
	if (!n)
		snprintf(why, len, "cannot load %s: libvirtcore's own directory is unknown "
			 "(set VIRTCORE_MODULE_DIR)", file);
	return NULL;
}

static void load(enum vc__module_id id)
{
	struct loaded *l = &loaded[id];
	const struct vc__module_config *c = config_of(id);
	if (!c->built) {
		snprintf(l->why, sizeof(l->why), "%s: this libvirtcore was built without it: %s",
			 c->name, c->why);
		return;
	}
	char file[64], why[sizeof(l->why) - 64];
	snprintf(file, sizeof(file), "libvirtcore-%s.so", c->name);
	void *h = open_library(file, why, sizeof(why));
	if (!h) {
		snprintf(l->why, sizeof(l->why), "%s: %s", c->name, why);
		return;
	}
	const struct vc__module *m = dlsym(h, "vc__module");
	if (!m || m->abi != VC__MODULE_ABI || strcmp(m->name, c->name) ||
	    strcmp(m->version, VC_VERSION_STRING) || m->count != vc__module_counts[id]) {
		snprintf(l->why, sizeof(l->why), "%s: %s is not the module library of this "
			 "libvirtcore (%s, %u functions): it says %s %s, %u functions", c->name,
			 file, VC_VERSION_STRING, vc__module_counts[id], m ? m->name : "nothing",
			 m ? m->version : "", m ? m->count : 0);
		dlclose(h);
		return;
	}
	m->set_log(vc__vlog);
	l->mod = m; /* never unloaded: objects it made may outlive any caller we know of */
}

static void load_pack(void) { load(VC__MODULE_PACK); }
static void load_trust(void) { load(VC__MODULE_TRUST); }
static void load_rewrite(void) { load(VC__MODULE_REWRITE); }
static void load_trace(void) { load(VC__MODULE_TRACE); }

static void (*const loaders[VC__MODULE_COUNT])(void) = {
	load_pack, load_trust, load_rewrite, load_trace,
};

vc__any_fn vc__module_fn(enum vc__module_id id, unsigned index)
{
	struct loaded *l = &loaded[id];
	pthread_once(&l->once, loaders[id]);
	if (!l->mod) {
		vc__err("%s", l->why);
		return NULL;
	}
	return index < l->mod->count ? l->mod->fns[index] : NULL;
}

VC_API int vc_has_module(const char *name)
{
	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(vc__modules) / sizeof(vc__modules[0]); i++) {
		const struct vc__module_config *c = &vc__modules[i];
		if (strcmp(name, c->name))
			continue;
		if (c->lazy_id >= 0)
			return vc__module_fn((enum vc__module_id)c->lazy_id, 0) != NULL;
		if (c->built)
			return 1;
		vc__err("%s: this libvirtcore was built without it: %s", name, c->why);
		return 0;
	}
	vc__err("no module is called \"%s\"", name);
	return -EINVAL;
}
