#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every public header follows docs/api-conventions.md. Parses include/virtcore/*.h and
fails on each function, type or options struct that breaks a rule, naming the rule.

usage: check_conventions.py INCLUDE_DIR
"""
import errno
import pathlib
import re
import sys

MODULE_OF_HEADER = {"gmem.h": "gmem", "spt.h": "spt", "irq.h": "irq", "ring.h": "ring",
                    "timerpage.h": "timerpage", "pack.h": "pack", "trust.h": "trust",
                    "rewrite.h": "rewrite", "trace.h": "trace", "prefetch.h": "prefetch",
                    "pvh.h": "pvh",
                    "common.h": None}
# x86-64 sizes and alignments of the types an options struct may hold.
SIZES = {"size_t": 8, "uint64_t": 8, "int64_t": 8, "uint32_t": 4, "int32_t": 4, "int": 4,
         "unsigned": 4, "uint16_t": 2, "uint8_t": 1, "ptr": 8}
CONSTRUCTOR_VERBS = {"create": "destroy", "load": "destroy", "generate": "destroy",
                     "open": "close", "attach": "detach"}
FORBIDDEN_SUFFIXES = ("_new", "_free", "_delete", "_alloc", "_dealloc")

failures = []


def fail(where, rule, what):
    failures.append(f"{where}: [{rule}] {what}")


def strip_comments_keep_docs(text):
    """Returns (text without comments, list of (end offset, doc text)) for /** blocks."""
    docs = []
    out = []
    length = pos = 0
    for m in re.finditer(r"/\*.*?\*/|//[^\n]*", text, re.S):
        out.append(text[pos:m.start()])
        length += m.start() - pos
        if m.group(0).startswith("/**"):
            docs.append((length, m.group(0)))
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), docs


def parse_params(params):
    params = " ".join(params.split())
    if params in ("", "void"):
        return []
    out = []
    for p in params.split(","):
        p = p.strip()
        bare = re.sub(r"\[[^\]]*\]", "", p)
        name = re.findall(r"[A-Za-z_]\w*", bare)[-1]
        typ = bare[:bare.rfind(name)].strip()
        out.append((typ + ("*" if "[" in p else ""), name))
    return out


def check_header(path):
    text = path.read_text()
    name = path.name
    module = MODULE_OF_HEADER.get(name)
    code, docs = strip_comments_keep_docs(text)
    code = re.sub(r"^\s*#(?:[^\n]*\\\n)*[^\n]*", lambda m: " " * len(m.group(0)), code,
                  flags=re.M)

    for m in re.finditer(r"\b(vc_\w+_t)\b", code):
        fail(name, "no-_t", f"type {m.group(1)}: POSIX reserves the _t suffix")

    handles = {}
    for m in re.finditer(r"typedef\s+struct\s+(\w+)\s+(\w+)\s*;", code):
        tag, alias = m.groups()
        if tag != alias:
            fail(name, "handle", f"typedef struct {tag} {alias}: the name must be the tag")
        if module and not alias.startswith(f"vc_{module}"):
            fail(name, "handle", f"{alias} is not named after its module ({module})")
        handles[alias] = name

    for m in re.finditer(r"struct\s+(vc_\w+_opts)\s*\{(.*?)\};", code, re.S):
        check_opts(name, m.group(1), m.group(2))

    funcs = []
    for m in re.finditer(r"\bVC_API\b\s+([^;{(]*?)\b([A-Za-z_]\w*)\s*\(([^;{]*?)\)\s*;", code,
                         re.S):
        funcs.append((m.start(), " ".join(m.group(1).split()), m.group(2),
                      parse_params(m.group(3)), m.end()))
    prev_end = None
    for start, ret, fname, params, end in funcs:
        where = f"{name}: {fname}()"
        # names
        if module and not fname.startswith(f"vc_{module}_"):
            fail(where, "prefix", f"functions of {name} start with vc_{module}_")
        if module is None and re.match(r"vc_(%s)_" % "|".join(
                m for m in MODULE_OF_HEADER.values() if m), fname):
            fail(where, "prefix", "a module's function belongs in the module's header")
        if fname.endswith(FORBIDDEN_SUFFIXES):
            fail(where, "lifecycle", "objects are made by create/load/open/attach and ended "
                 "by destroy/close/detach")
        check_params(where, fname, ret, params, handles)
        # documentation: a /** block right before it, or before the group it opens
        doc = next((d for off, d in reversed(docs) if off <= start), None)
        doc_end = max((off for off, _ in docs if off <= start), default=-1)
        between = code[doc_end:start] if doc_end >= 0 else code[:start]
        gap = code[prev_end:start] if prev_end is not None else "x"
        grouped = not gap.strip() and "\n\n" not in re.sub(r"[ \t]", "", gap)
        if doc is None or (between.strip() and not grouped):
            fail(where, "doc", "no /** */ block before it")
        elif ret in ("int", "long", "int64_t") and not grouped and \
                not re.search(r"@return|[Rr]eturns?\b|\b0[;,]|-E[A-Z]", doc):
            fail(where, "doc", "returns a code but documents none (@return)")
        if doc:
            for e in re.findall(r"-E([A-Z0-9]+)\b", doc):
                if not hasattr(errno, "E" + e):
                    fail(where, "doc", f"documents -E{e}, which is no errno")
        prev_end = end
    return funcs, handles


def check_params(where, fname, ret, params, handles):
    names = [n for _, n in params]
    outs = [i for i, n in enumerate(names) if n == "out" or n.startswith("out_")]
    if outs and outs != list(range(len(outs))):
        fail(where, "out-first", f"outputs ({', '.join(names[i] for i in outs)}) must "
             "come first")
    if "out" in names and names.index("out") != 0:
        fail(where, "out-first", "the parameter named out must be the first")
    for i, (typ, n) in enumerate(params):
        base = typ.replace("const", "").replace("*", "").strip()
        # a public struct the call fills is an output; the ring view is an object
        capacity = i + 1 < len(params) and params[i + 1][1] in ("max", "len", "size", "n")
        if typ.startswith("struct vc_") and typ.count("*") == 1 and not capacity and \
                n not in ("out", "stats") and base not in OBJECT_STRUCTS:
            fail(where, "out-first", f"{n}: a struct the call fills is its output, "
                 "named out and first")
        if typ.count("*") == 2 and base in handles and (i != 0 or n != "out"):
            fail(where, "out-first", f"the {base} it makes is returned through the first "
                 "parameter, named out")
    if "userdata" in names:
        i = names.index("userdata")
        if i != len(names) - 1 or i == 0 or not (params[i - 1][0].endswith("_fn") or
                                                 "(*" in params[i - 1][0]):
            fail(where, "userdata-last", "a callback and its userdata come last")
    if fname.endswith("_get_stats"):
        ok = (ret == "int" and len(params) == 3 and params[1][1] == "stats" and
              params[1][0].startswith("struct vc_") and params[2] == ("size_t", "size"))
        if not ok:
            fail(where, "stats", "statistics are int vc_<module>_get_stats(h, "
                 "struct ... *stats, size_t size)")


def check_opts(header, struct, body):
    where = f"{header}: struct {struct}"
    members = []
    for decl in body.split(";"):
        decl = " ".join(decl.split())
        if not decl:
            continue
        if "(*" in decl or decl.endswith("*") or re.search(r"\*\s*\w+$", decl):
            members.append(("ptr", decl))
            continue
        m = re.match(r"(?:const\s+)?(struct\s+\w+|enum\s+\w+|\w+)\s+(\w+)(\[\d+\])?$", decl)
        if not m:
            fail(where, "opts", f"cannot read member '{decl}'")
            return
        members.append((m.group(1), decl))
    if not members or not re.match(r"size_t sz$", members[0][1]):
        fail(where, "opts", "the first field must be size_t sz")
    offset = 0
    align_max = 1
    for typ, decl in members:
        if typ == "struct vc_ring_notifier":  # the one nested struct: pointers only
            size, align = 8 * NOTIFIER_PTRS, 8
        elif typ in SIZES:
            size = align = SIZES[typ]
        elif typ.startswith("enum ") or typ == "bool":
            fail(where, "opts", f"{decl}: use a fixed-width integer, not {typ}")
            return
        else:
            fail(where, "opts", f"unknown member type {typ}")
            return
        if offset % align:
            fail(where, "opts-padding", f"implicit padding before '{decl}': add a named "
                 "pad field")
            offset += align - offset % align
        offset += size
        align_max = max(align_max, align)
    if offset % align_max:
        fail(where, "opts-padding", f"{align_max - offset % align_max} bytes of tail padding: "
             "end with a named pad field so VC_OPTS zeroes every byte")


NOTIFIER_PTRS = 3
# Caller-allocated structs that are objects (in and out), not results.
OBJECT_STRUCTS = {"struct vc_ring_view", "struct vc_timerpage_abi_watch"}


def check_lifecycles(all_funcs, handles):
    names = {f for _, _, f, _, _ in all_funcs}
    by_handle = {}
    for _, ret, fname, params, _ in all_funcs:
        if params and params[0][1] == "out" and params[0][0].count("*") == 2:
            base = params[0][0].replace("const", "").replace("*", "").strip()
            if base in handles:
                by_handle.setdefault(base, []).append(fname)
    for handle in handles:
        enders = [v for v in ("destroy", "close", "detach") if f"{handle}_{v}" in names]
        if len(enders) != 1:
            fail(handles[handle], "lifecycle", f"{handle} needs exactly one of "
                 f"{handle}_destroy/_close/_detach (has {enders or 'none'})")
            continue
        for ctor in by_handle.get(handle, []):
            verb = next((v for v in CONSTRUCTOR_VERBS if re.search(r"_%s(_|$)" % v, ctor)),
                        None)
            if verb is None:
                fail(handles[handle], "lifecycle", f"{ctor}() makes a {handle} but its name "
                     f"has no create/load/generate/open/attach")
            elif CONSTRUCTOR_VERBS[verb] != enders[0]:
                fail(handles[handle], "lifecycle", f"{ctor}() ({verb}) pairs with "
                     f"_{CONSTRUCTOR_VERBS[verb]}, but {handle} ends with _{enders[0]}")


def self_test(include_dir):
    """The checker must catch what it claims to: break a copy of the headers, one rule at
    a time, and expect that rule to be reported."""
    import shutil
    import tempfile
    breaks = [
        ("gmem.h", "vc_gmem_region(struct vc_gmem_region_info *out,",
         "vc_gmem_region(struct vc_gmem_region_info *info,", None),
        ("gmem.h", "typedef struct vc_gmem vc_gmem;", "typedef struct vc_gmem vc_gmem_t;",
         "no-_t"),
        ("spt.h", "\tuint64_t budget;\n};", "\tuint64_t budget;\n\tuint32_t more;\n};",
         "opts-padding"),
        ("pack.h", "int vc_pack_open(vc_pack **out, const char *path)",
         "int vc_pack_open(const char *path, vc_pack **out)", "out-first"),
        ("trust.h", "vc_trust_list_destroy(", "vc_trust_list_free(", "lifecycle"),
        ("ring.h", "int vc_ring_get_stats(const vc_ring *r, struct vc_ring_stats *stats, size_t size)",
         "int vc_ring_get_stats(const vc_ring *r, struct vc_ring_stats *out)", "stats"),
        ("common.h", "VC_API vc_log_fn vc_set_log_fn(vc_log_fn fn, void *userdata);",
         "VC_API vc_log_fn vc_set_log_fn(void *userdata, vc_log_fn fn);", "userdata-last"),
        ("irq.h", "VC_API int vc_irq_rebalance(vc_irq *irq);",
         "VC_API int vc_irq_rebalance(vc_irq *irq);\n\nVC_API int vc_irq_stray(void);", "doc"),
    ]
    bad = 0
    for header, old, new, rule in breaks:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(pathlib.Path(include_dir, "virtcore"), pathlib.Path(tmp, "virtcore"))
            p = pathlib.Path(tmp, "virtcore", header)
            text = p.read_text()
            if old not in text:
                print(f"self-test: cannot find {old!r} in {header}")
                bad += 1
                continue
            p.write_text(text.replace(old, new, 1))
            failures.clear()
            run(tmp)
            # a renamed output is caught as a parameter named neither out nor first
            want = rule or "out-first"
            hit = [f for f in failures if f"[{want}]" in f]
            if rule is None:
                hit = [f for f in failures if "vc_gmem_region" in f] or hit
            print(f"self-test: {header}: {'caught' if hit else 'MISSED'} [{want}]")
            bad += not hit
    failures.clear()
    return bad


def run(include_dir):
    inc = pathlib.Path(include_dir, "virtcore")
    all_funcs, handles = [], {}
    for path in sorted(inc.glob("*.h")):
        funcs, h = check_header(path)
        all_funcs += funcs
        handles.update(h)
    check_lifecycles(all_funcs, handles)
    return all_funcs, handles


def main():
    missed = self_test(sys.argv[1])
    all_funcs, handles = run(sys.argv[1])
    if missed:
        failures.append(f"the checker missed {missed} deliberate break(s) (self-test)")
    for f in failures:
        print("FAIL", f)
    print(f"conventions: {len(all_funcs)} functions, {len(handles)} handle types checked, "
          f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
