/* SPDX-License-Identifier: MIT */
/* The command-line tools' view of libvirtcore's per-thread error detail (vc_error_last()),
 * so a failure can be reported as `TOOL: FILE: message` (the return code only says which
 * kind of error). */
#ifndef VC_TOOLS_ERROR_CAPTURE_H
#define VC_TOOLS_ERROR_CAPTURE_H

/* Sets the module prefix ("pack: ", "trust: "...) that tool_last_error() removes from the
 * front of the detail. */
void tool_capture_errors(const char *module_prefix);

/* The detail of this thread's last failure, or NULL when there is none since
 * tool_clear_error(). */
const char *tool_last_error(void);

void tool_clear_error(void);

#endif /* VC_TOOLS_ERROR_CAPTURE_H */
