// SPDX-License-Identifier: MIT
// vc_has_module() where every module that was built is linked in (libvirtcore.a and the
// tests' internal library): the answer is the build's.
#include <errno.h>
#include <string.h>

#include "log.h"
#include "modules-config.h"

VC_API int vc_has_module(const char *name)
{
	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(vc__modules) / sizeof(vc__modules[0]); i++)
		if (!strcmp(name, vc__modules[i].name)) {
			if (vc__modules[i].built)
				return 1;
			vc__err("%s: built without it: %s", name, vc__modules[i].why);
			return 0;
		}
	vc__err("no module is called \"%s\"", name);
	return -EINVAL;
}
