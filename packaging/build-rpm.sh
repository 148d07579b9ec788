#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Builds the RPM package from packaging/rpm/port53guard.spec with rpmbuild
# and puts the binary .rpm into packaging/out/.
#
#   packaging/build-rpm.sh            from a clean checkout of the committed HEAD
#   packaging/build-rpm.sh --tree     from the working tree as it is: tracked and
#                                     untracked files, less what .gitignore hides
#   options:
#     --out DIR    put the result into DIR instead of packaging/out
#     --nodeps     do not check BuildRequires (the default where rpm cannot
#                  know the installed packages, as on Debian: dpkg-checkbuilddeps
#                  checks packaging/debian/control's Build-Depends instead)
#     --deps       check BuildRequires (the default on RPM-based systems)
#     --nocheck    do not run the unit tests during the build
#
# The source tarball port53guard-VERSION.tar.gz is made from the chosen
# source; rpmbuild runs in a scratch directory. Prints the path of the .rpm
# as its last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
source=clean
out=$root/packaging/out
if command -v dpkg >/dev/null 2>&1; then
	nodeps=yes
else
	nodeps=no
fi

nocheck=no

usage() {
	sed -n '4,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--tree) source=tree ;;
	--clean) source=clean ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift ;;
	--nodeps) nodeps=yes ;;
	--deps) nodeps=no ;;
	--nocheck) nocheck=yes ;;
	-h|--help) usage ;;
	*) echo "build-rpm.sh: unknown argument '$1'" >&2; usage ;;
	esac
	shift
done

# shellcheck source=packaging/source-tree.sh
. "$here/source-tree.sh"

if [ "$nodeps" = yes ] && command -v dpkg-checkbuilddeps >/dev/null 2>&1; then
	# rpm knows nothing of the Debian packages installed: check the same
	# build dependencies under their Debian names.
	dpkg-checkbuilddeps -B "$root/packaging/debian/control"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/port53guard-rpm.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{BUILD,BUILDROOT,RPMS,SOURCES,SPECS,SRPMS}
source_copy "$root" "$source" "$work/src"
spec=$work/src/packaging/rpm/port53guard.spec
if [ ! -f "$spec" ]; then
	echo "build-rpm.sh: the $source source has no packaging/rpm/port53guard.spec (not committed yet? try --tree)" >&2
	exit 1
fi
version=$(source_version "$work/src")
spec_version=$(sed -n 's/^Version:[[:space:]]*//p' "$spec")
if [ "$spec_version" != "$version" ]; then
	echo "build-rpm.sh: the spec says $spec_version but meson.build says $version" >&2
	exit 1
fi
cp "$spec" "$work/SPECS/"
mv "$work/src" "$work/port53guard-$version"
tar -C "$work" --owner=0 --group=0 --sort=name -czf "$work/SOURCES/port53guard-$version.tar.gz" \
	"port53guard-$version"
rm -rf "${work:?}/port53guard-$version"

args=(-bb --define "_topdir $work")
[ "$nodeps" = yes ] && args+=(--nodeps)
[ "$nocheck" = yes ] && args+=(--nocheck)
echo "build-rpm.sh: building port53guard $version from the $source source in $work" >&2
log=$work/build.log
if ! rpmbuild "${args[@]}" "$work/SPECS/port53guard.spec" >"$log" 2>&1; then
	echo "build-rpm.sh: rpmbuild failed; the end of its output:" >&2
	tail -n 80 "$log" >&2
	exit 1
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/port53guard-[0-9]*.rpm "$out"/port53guard-debug*.rpm
find "$work/RPMS" -name 'port53guard-*.rpm' -exec cp {} "$out"/ \;
cp "$log" "$out/port53guard-rpm-build.log"
rpm=$(find "$out" -maxdepth 1 -name "port53guard-$version-*.rpm" ! -name '*debug*' | head -n 1)
if [ -z "$rpm" ]; then
	echo "build-rpm.sh: rpmbuild made no port53guard-$version package" >&2
	exit 1
fi
echo "$rpm"
