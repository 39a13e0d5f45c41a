#!/usr/bin/env bash
# Fetch Debian's Chromium into a folder, without root and without installing it:
#     bash .ci/chromium.sh DIR     # then: source DIR/env.sh  (sets PIXSCALE_CHROMIUM, CHROMIUM, LD_LIBRARY_PATH)
# apt-get download fetches chromium and chromium-common and every library of theirs that is not installed
# (the packages they depend on, then those packages' own missing ones, until none is left); dpkg-deb -x
# unpacks them under DIR/root. It ends with an error, never quietly, when a download fails or the browser
# still lacks a library or cannot render a page. Needs apt's package lists: when a download fails and this
# runs as root, it runs apt-get update once and tries again.
set -euo pipefail
dir=${1:?usage: bash .ci/chromium.sh DIR}
mkdir -p "$dir/debs" "$dir/root"
dir=$(cd "$dir" && pwd)
cd "$dir/debs"

missing() {  # the packages of $@ (and of their Depends) not installed here, one a line
    apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$@" \
        | awk '/^ *\|?Depends: [^<]/ {print $2}' | sort -u | while read -r p; do
            dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
        done
}

want=(chromium chromium-common)
fetched=()
while [ ${#want[@]} -gt 0 ]; do
    if ! apt-get download "${want[@]}" >>"$dir/download.log" 2>&1 \
        && ! { [ "$(id -u)" = 0 ] && apt-get update -qq >>"$dir/download.log" 2>&1 \
               && apt-get download "${want[@]}" >>"$dir/download.log" 2>&1; }; then
        echo "error: apt-get download ${want[*]} failed (see $dir/download.log; are apt's lists current?)" >&2
        tail -n 5 "$dir/download.log" >&2
        exit 1
    fi
    fetched+=("${want[@]}")
    mapfile -t next < <(missing "${want[@]}" | grep -vxF -f <(printf '%s\n' "${fetched[@]}") || true)
    want=("${next[@]}")
done
for f in *.deb; do dpkg-deb -x "$f" "$dir/root"; done

lib="$dir/root/usr/lib/x86_64-linux-gnu"
browser="$dir/root/usr/lib/chromium/chromium"
[ -x "$browser" ] || { echo "error: no chromium executable in the packages fetched ($browser)" >&2; exit 1; }
libs="$lib:$lib/pulseaudio"
if LD_LIBRARY_PATH="$libs" ldd "$browser" | grep "not found" >&2; then
    echo "error: chromium still lacks the libraries above" >&2
    exit 1
fi
cat >"$dir/env.sh" <<EOF
export LD_LIBRARY_PATH="$libs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export PIXSCALE_CHROMIUM="$browser"
export CHROMIUM="$browser"
EOF
# shellcheck source=/dev/null
. "$dir/env.sh"
if ! "$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$dir/profile" --dump-dom \
    'data:text/html,<p>pixscale</p>' 2>/dev/null | grep -q "<p>pixscale</p>"; then
    echo "error: $browser cannot render a page" >&2
    exit 1
fi
echo "chromium: $("$browser" --version 2>/dev/null) in $dir (${#fetched[@]} packages)"
