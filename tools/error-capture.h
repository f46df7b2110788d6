/* SPDX-License-Identifier: MIT */
/* The command-line tools' view of libvirtcore's log: the last error message, kept so a
 * failure can be reported as `TOOL: FILE: message` (the library logs the detail, the
 * return code only says which kind of error). */
#ifndef VC_TOOLS_ERROR_CAPTURE_H
#define VC_TOOLS_ERROR_CAPTURE_H

/* Installs the log callback: from now on each VC_LOG_ERROR message is kept, with
 * @module_prefix ("pack: ", "trust: "...) removed from its front. */
void tool_capture_errors(const char *module_prefix);

/* The last message kept, or NULL when there is none since tool_clear_error(). */
const char *tool_last_error(void);

void tool_clear_error(void);

#endif /* VC_TOOLS_ERROR_CAPTURE_H */
