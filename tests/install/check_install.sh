#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the build into a staging directory, then builds every examples/*.c out of
# tree through pkg-config (shared, and one against the static archive) and runs them.
# With the Python binding: imports the installed package from where it was installed.
# usage: check_install.sh BUILD_DIR SRC_DIR CC SANITIZE [PYTHON PYTHON_INSTALL_DIR]
set -euo pipefail
build=$1 src=$2 cc=$3 sanitize=$4 python=${5:-} pydir=${6:-}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

meson install -C "$build" --destdir "$stage" --no-rebuild --quiet

pc=$(find "$stage" -name virtcore.pc | head -n1)
[ -n "$pc" ] || { echo "FAIL: virtcore.pc was not installed"; exit 1; }
export PKG_CONFIG_LIBDIR=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$stage
libdir=$(pkg-config --variable=libdir virtcore)
# pkgconf applies the sysroot to variables too; older pkg-config does not.
case $libdir in "$stage"/*) ;; *) libdir=$stage$libdir ;; esac

for f in include/virtcore/virtcore.h include/virtcore/common.h include/virtcore/version.h; do
	[ -n "$(find "$stage" -path "*/$f")" ] || { echo "FAIL: $f not installed"; exit 1; }
done
soname=$(readelf -d "$libdir/libvirtcore.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libvirtcore.so.0 ] || { echo "FAIL: soname is '$soname'"; exit 1; }
[ -f "$libdir/libvirtcore.a" ] || { echo "FAIL: libvirtcore.a not installed"; exit 1; }
# The heavy modules' libraries, where the installed core looks for them.
for lib in "$build"/lib/libvirtcore-*.so; do
	[ -e "$lib" ] || continue
	[ -f "$libdir/virtcore/$(basename "$lib")" ] ||
		{ echo "FAIL: $(basename "$lib") not installed in $libdir/virtcore"; exit 1; }
done

extra=()
[ "$sanitize" = none ] || extra=(-fsanitize="$sanitize")
read -r -a cflags <<<"$(pkg-config --cflags virtcore)"
read -r -a libs <<<"$(pkg-config --libs virtcore)"
read -r -a static_libs <<<"$(pkg-config --static --libs-only-other --libs-only-l virtcore | sed 's/-lvirtcore//')"

n=0
for ex in "$src"/examples/*.c; do
	name=$(basename "$ex" .c)
	# Examples of modules this build left out (missing dependency) are not built here.
	if [ -d "$build/examples" ] && [ ! -x "$build/examples/$name" ]; then
		echo "skip $name (its module is not in this build)"; continue
	fi
	"$cc" -std=gnu11 -Wall -Wextra -Werror "${extra[@]}" "${cflags[@]}" "$ex" -o "$stage/$name" "${libs[@]}"
	LD_LIBRARY_PATH=$libdir "$stage/$name" >"$stage/$name.out" 2>&1 ||
		{ echo "FAIL: $name exited $?"; cat "$stage/$name.out"; exit 1; }
	echo "ok   $name (shared, through pkg-config)"
	n=$((n + 1))
	if [ $n -eq 1 ]; then
		# The archive alone must satisfy a link: no reference to the .so.
		"$cc" -std=gnu11 "${extra[@]}" "${cflags[@]}" "$ex" -o "$stage/$name-static" \
			"$libdir/libvirtcore.a" "${static_libs[@]}"
		if readelf -d "$stage/$name-static" | grep -q 'libvirtcore.so'; then
			echo "FAIL: static link still needs libvirtcore.so"; exit 1
		fi
		"$stage/$name-static" >/dev/null
		echo "ok   $name (static archive)"
	fi
done
[ $n -gt 0 ] || { echo "FAIL: no examples found in $src/examples"; exit 1; }

# The README's usage example must keep compiling and running as printed.
sed -n '/^```c$/,/^```$/{/^```/d;p}' "$src/README.md" >"$stage/readme.c"
[ -s "$stage/readme.c" ] || { echo "FAIL: no C block in README.md"; exit 1; }
"$cc" -std=gnu11 -Wall -Wextra -Werror "${extra[@]}" "${cflags[@]}" "$stage/readme.c" \
	-o "$stage/readme" "${libs[@]}"
LD_LIBRARY_PATH=$libdir "$stage/readme" 2>/dev/null || { echo "FAIL: README example exited $?"; exit 1; }
echo "ok   README.md usage example"

# The Python binding, imported from where `meson install` put it (the libraries from the
# stage; a sanitized build needs its runtime preloaded).
if [ -n "$python" ]; then
	case $pydir in /*) ;; *) pydir=$(pkg-config --variable=prefix virtcore)/$pydir ;; esac
	[ -f "$stage$pydir/virtcore/__init__.py" ] ||
		{ echo "FAIL: the Python package is not in $pydir"; exit 1; }
	preload=
	[ "$sanitize" = none ] || preload="$("$cc" -print-file-name=libasan.so) $("$cc" -print-file-name=libubsan.so)"
	v=$(cd "$stage" && ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD=$preload PYTHONPATH=$stage$pydir \
		LD_LIBRARY_PATH=$libdir "$python" -c 'import virtcore; print(virtcore.version())') ||
		{ echo "FAIL: the installed Python package does not import"; exit 1; }
	echo "ok   python3 -c 'import virtcore; print(virtcore.version())': $v (from $pydir)"
fi
echo "install: $n example(s) built out of tree and run"
