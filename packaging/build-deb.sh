#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Builds the Debian package with dpkg-buildpackage and puts the .deb (with
# its .changes and .buildinfo) into packaging/out/.
#
#   packaging/build-deb.sh            from a clean checkout of the committed HEAD
#   packaging/build-deb.sh --tree     from the working tree as it is: tracked and
#                                     untracked files, less what .gitignore hides
#   options:
#     --out DIR    put the results into DIR instead of packaging/out
#     --reuse      do nothing when DIR already holds a .deb built by this script
#                  from exactly the same source files
#     --lintian    run lintian on the result (errors fail the build)
#     --nocheck    do not run the unit tests during the build
#
# The top level of the source has no debian/ directory: packaging/debian is
# copied to debian/ in a scratch copy of the source, which is built there;
# the checkout itself is never written to, except for the output directory.
# Prints the path of the .deb as its last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
source=clean
out=$root/packaging/out
reuse=no
run_lintian=no
nocheck=no

usage() {
	sed -n '4,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--tree) source=tree ;;
	--clean) source=clean ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift ;;
	--reuse) reuse=yes ;;
	--lintian) run_lintian=yes ;;
	--nocheck) nocheck=yes ;;
	-h|--help) usage ;;
	*) echo "build-deb.sh: unknown argument '$1'" >&2; usage ;;
	esac
	shift
done

# shellcheck source=packaging/source-tree.sh
. "$here/source-tree.sh"

mkdir -p "$out"
out=$(cd "$out" && pwd)
stamp=$out/port53guard-deb.stamp
hash=$(source_hash "$root" "$source")

# The stamp holds the source hash and the .deb built from it.
if [ "$reuse" = yes ] && [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "$hash" ]; then
	deb=$out/$(sed -n 2p "$stamp")
	if [ -f "$deb" ]; then
		echo "build-deb.sh: $deb is up to date" >&2
		echo "$deb"
		exit 0
	fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/port53guard-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
source_copy "$root" "$source" "$work/src"
if [ ! -d "$work/src/packaging/debian" ]; then
	echo "build-deb.sh: the $source source has no packaging/debian (not committed yet? try --tree)" >&2
	exit 1
fi
version=$(source_version "$work/src")
deb_version=$(dpkg-parsechangelog -l "$work/src/packaging/debian/changelog" -S Version)
if [ "${deb_version%-*}" != "$version" ]; then
	echo "build-deb.sh: packaging/debian/changelog says $deb_version but meson.build says $version" >&2
	exit 1
fi
src=$work/port53guard-$version
mv "$work/src" "$src"
rm -rf "$src/debian"
cp -a "$src/packaging/debian" "$src/debian"
arch=$(dpkg --print-architecture)
deb=$out/port53guard_${deb_version}_${arch}.deb

echo "build-deb.sh: building port53guard $deb_version from the $source source in $src" >&2
log=$work/build.log
opts=${DEB_BUILD_OPTIONS:-parallel=$(nproc)}
[ "$nocheck" = yes ] && opts="$opts nocheck"
if ! (cd "$src" && DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -us -uc -b) >"$log" 2>&1; then
	echo "build-deb.sh: dpkg-buildpackage failed; the end of its output:" >&2
	tail -n 80 "$log" >&2
	exit 1
fi

rm -f "$out"/port53guard_*.deb "$out"/port53guard-dbgsym_*.deb "$out"/port53guard_*.changes \
	"$out"/port53guard_*.buildinfo "$stamp"
cp "$work"/port53guard*_"${deb_version}"_*.deb "$work"/port53guard_"${deb_version}"_*.changes \
	"$work"/port53guard_"${deb_version}"_*.buildinfo "$out"/
cp "$log" "$out/port53guard-deb-build.log"
printf '%s\n%s\n' "$hash" "$(basename "$deb")" >"$stamp"

if [ "$run_lintian" = yes ]; then
	# Errors fail; warnings and the rest are printed.
	lintian --fail-on error --display-info "$out/port53guard_${deb_version}_${arch}.changes" >&2
fi

echo "$deb"
