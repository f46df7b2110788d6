#!/bin/sh
# SPDX-License-Identifier: MIT
# libvirtcore.so copied alone into an empty directory: every heavy module must fail with
# -EOPNOTSUPP and say it cannot load its library.
# usage: lone_core.sh PYTHON CHECK_MODULES PROBE LIBVIRTCORE_SO
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$4" "$dir/libvirtcore.so.0"
"$1" "$2" "$3" "$dir" --expect absent
