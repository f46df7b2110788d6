#!/bin/sh
# SPDX-License-Identifier: MIT
# Configures and builds the library with every heavy module disabled, then checks that it
# exports the same functions as any other build (.so and .a) and that each left-out
# module fails with -EOPNOTSUPP saying it was built without it.
# usage: disabled_build.sh SRC_ROOT PYTHON CHECK_SYMBOLS CHECK_MODULES PROBE
set -eu
src=$1 py=$2 check_symbols=$3 check_modules=$4 probe=$5
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if ! meson setup "$dir/b" "$src" -Dwerror=true -Dpack=disabled -Dtrust=disabled \
	-Debpf=disabled -Drewriter=disabled -Dref_vmm=disabled -Dtests=false -Dbench=false \
	-Dexamples=false >"$dir/setup.log" 2>&1; then
	cat "$dir/setup.log"
	exit 1
fi
meson compile -C "$dir/b" >"$dir/compile.log" 2>&1 || { cat "$dir/compile.log"; exit 1; }
if ls "$dir"/b/lib/libvirtcore-*.so >/dev/null 2>&1; then
	echo "FAIL a module library was built although its module is disabled"
	exit 1
fi
"$py" "$check_symbols" "$src/include" "$src/lib/libvirtcore.map" \
	"$dir/b/lib/libvirtcore.so" --static "$dir/b/lib/libvirtcore.a"
exec "$py" "$check_modules" "$probe" "$dir/b/lib" --expect built-without
