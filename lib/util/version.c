// SPDX-License-Identifier: MIT
// The running library's version (the headers' may differ).
#include <virtcore/common.h>

VC_API unsigned long vc_version(void)
{
	return VC_VERSION_NUMBER;
}

VC_API const char *vc_version_string(void)
{
	return VC_VERSION_STRING;
}
