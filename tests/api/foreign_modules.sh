#!/bin/sh
# SPDX-License-Identifier: MIT
# A module directory where each libvirtcore-<name>.so is really another module's library:
# the core must refuse each (its table names another module) rather than call it.
# usage: foreign_modules.sh PYTHON CHECK_MODULES PROBE LIB_DIR NAME=PATH... [--only NAME]...
set -eu
py=$1 check=$2 probe=$3 lib=$4
shift 4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
first="" prev="" only=""
for arg in "$@"; do
	case $arg in
	--only) only="$only --only" ;;
	*=*)
		name=${arg%%=*} path=${arg#*=}
		# rotate: each name gets the previous module's library
		[ -z "$first" ] && first=$path
		[ -n "$prev" ] && cp "$prev" "$dir/libvirtcore-$name.so"
		prev=$path last=$name ;;
	*) only="$only $arg" ;;
	esac
done
[ "$first" = "$prev" ] && { echo "one module only: nothing to swap"; exit 77; }
first_name=$(echo "$@" | sed 's/=.*//')
cp "$prev" "$dir/libvirtcore-$first_name.so"
# shellcheck disable=SC2086
exec "$py" "$check" "$probe" "$lib" --expect foreign --module-dir "$dir" $only
