#!/usr/bin/env bash
# Builds a small local Kafka image from jars already fetched, without a registry.
#
#   build/image/build.sh KAFKA_HOME IMAGE        e.g. build/image/build.sh \
#                                                  ~/.cache/eoskit/kafka-4.4.0 \
#                                                  localhost/eoskit-kafka:4.4.0
#
# KAFKA_HOME/libs holds Kafka's broker and tools jars with their runtime
# dependencies (build/kafka/pom.xml, mvn dependency:copy-dependencies). The image
# follows the official apache/kafka layout where it matters to callers:
#   /opt/kafka/libs/*.jar       the jars (classpath '/opt/kafka/libs/*')
#   /opt/kafka/config/          log4j2.properties (INFO to stderr; the
#                               default via LOG4J_CONFIGURATION_FILE) and
#                               tools-log4j2.properties (WARN to stderr)
#   /opt/java                   a jlink'd JRE from the host's JDK, `java` on PATH
#   /bin/sh                     busybox (static) with its applets
#   /tmp (1777), /etc/passwd (root, appuser 1000, nobody), WORKDIR /opt/kafka
# There are no bin/*.sh scripts: run classes with java -cp '/opt/kafka/libs/*'.
#
# Idempotent: does nothing when IMAGE exists, unless FORCE=1. Uses podman, else
# docker (CONTAINER_CLI=docker|podman to choose). Progress goes to stderr.
#
# Environment knobs:
#   FORCE=1             rebuild even if IMAGE exists
#   CONTAINER_CLI=...   podman or docker (default: podman if installed)
#   JLINK_JDK=DIR       JDK to jlink from (default /usr/lib/jvm/java-17-openjdk-amd64,
#                       else the JDK of the jlink on PATH)
set -euo pipefail

say() { echo "image-build: $*" >&2; }
die() { echo "image-build: ERROR: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 KAFKA_HOME IMAGE"
KAFKA_HOME=$1
IMAGE=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIBS=$KAFKA_HOME/libs

# JRE modules for the Kafka 4.x broker and tools (jdeps over the jars names java.se
# modules plus jdk.unsupported, jdk.attach, jdk.jdi); the jdk.* extras cover JMX,
# SASL/Kerberos, DNS lookups, JFR and jcmd/jstack for debugging.
MODULES=java.se,jdk.unsupported,jdk.management,jdk.management.agent,jdk.crypto.ec,jdk.naming.dns,jdk.zipfs,jdk.jfr,jdk.security.auth,jdk.security.jgss,jdk.charsets,jdk.net,jdk.attach,jdk.jcmd
# Native libraries of java.desktop that need X11, fonts, sound or image libraries:
# left out (headless AWT still works), so their shared-library trees stay out too.
EXCLUDE_NATIVE=(libawt_xawt libjawt libsplashscreen libjsound libfontmanager libjavajpeg liblcms libj2pcsc)

# ---------------------------------------------------------------- CLI
. "$HERE/lib.sh"
img_cli

# ---------------------------------------------------------------- inputs
[ -d "$LIBS" ] || die "$LIBS does not exist (fetch the Kafka jars first)"
shopt -s nullglob
kjars=("$LIBS"/kafka_2.13-*.jar)
jars=("$LIBS"/*.jar)
shopt -u nullglob
[ ${#kjars[@]} -eq 1 ] || die "expected exactly one kafka_2.13-*.jar in $LIBS, found ${#kjars[@]}"
KAFKA_VERSION=$(basename "${kjars[0]}" .jar)
KAFKA_VERSION=${KAFKA_VERSION#kafka_2.13-}

if [ -n "${JLINK_JDK:-}" ]; then JDK=$JLINK_JDK
elif [ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/jlink ]; then JDK=/usr/lib/jvm/java-17-openjdk-amd64
elif command -v jlink >/dev/null 2>&1; then JDK=$(dirname "$(dirname "$(readlink -f "$(command -v jlink)")")")
else die "no JDK with jlink found (set JLINK_JDK)"
fi
[ -x "$JDK/bin/jlink" ] || die "$JDK/bin/jlink not found"
JDK_VERSION=$(sed -n 's/^JAVA_VERSION="\(.*\)"/\1/p' "$JDK/release" 2>/dev/null || true)
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || die "busybox not found (apt-get install busybox-static)"
command -v ldd >/dev/null 2>&1 || die "ldd not found"

# Fingerprint of everything that goes into the image (labelled, to spot stale images).
INPUTS=$( { for j in "${jars[@]}"; do printf '%s %s\n' "$(basename "$j")" "$(stat -c %s "$j")"; done
            cat "$0" "$IMAGE_LIB" "$HERE/log4j2.properties" "$HERE/tools-log4j2.properties"
            echo "$JDK_VERSION $MODULES"; "$BUSYBOX" 2>&1 | sed -n 1p; } | sha256sum | cut -c1-16)

# ---------------------------------------------------------------- skip?
img_lock_or_skip eoskit-image-build "$INPUTS"

START=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/eoskit-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/rootfs
mkdir -p "$ROOT"
say "building $IMAGE: Kafka $KAFKA_VERSION (${#jars[@]} jars), JRE from $JDK ($JDK_VERSION), $CLI"

# ---------------------------------------------------------------- JRE
excl=$(printf 'glob:**/%s.so,' "${EXCLUDE_NATIVE[@]}")
"$JDK/bin/jlink" --add-modules "$MODULES" \
  --strip-debug --no-man-pages --no-header-files --compress=2 \
  --exclude-files="${excl%,}" --generate-cds-archive \
  --output "$ROOT/opt/java" >"$WORK/jlink.log" 2>&1 || { cat "$WORK/jlink.log" >&2; die "jlink failed"; }
# The archive for heaps over 32 GB (no compressed oops) is never used here.
rm -f "$ROOT/opt/java/lib/server/classes_nocoops.jsa"
# Debian's JDK links some files to /etc (cacerts, jvm.cfg, ...): make them real.
find "$ROOT/opt/java" -type l | while read -r l; do
  t=$(readlink -f "$l" || true)
  if [ -n "$t" ] && [ -f "$t" ]; then cp --remove-destination "$t" "$l"; else rm -f "$l"; fi
done

# ---------------------------------------------------------------- Kafka
mkdir -p "$ROOT/opt/kafka/libs" "$ROOT/opt/kafka/config"
cp -p "${jars[@]}" "$ROOT/opt/kafka/libs/"
cp "$HERE/log4j2.properties" "$HERE/tools-log4j2.properties" "$ROOT/opt/kafka/config/"

# ---------------------------------------------------------------- base system
img_base "$ROOT" "$BUSYBOX"
mkdir -p "$ROOT/home/appuser"
chmod 700 "$ROOT/root"
cat >"$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
appuser:x:1000:1000::/home/appuser:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$ROOT/etc/group" <<'EOF'
root:x:0:
appuser:x:1000:
nogroup:x:65534:
EOF
chown 1000:1000 "$ROOT/home/appuser"

# ---------------------------------------------------------------- shared libraries
# Every library that ldd names for the ELF files in the image, at the same path
# as on the host (dereferenced), plus the dynamic loader. The jars carry native
# code too (zstd-jni, snappy-java, lz4-java unpack a .so into /tmp at run time,
# needing e.g. libpthread.so.0): their entries for this machine are checked as well.
case "$(uname -m)" in
  x86_64) ARCH_RE='x86_64|amd64' ;;
  aarch64) ARCH_RE='aarch64|arm64' ;;
  *) ARCH_RE=$(uname -m) ;;
esac
mkdir -p "$WORK/jarnative"
for j in "${jars[@]}"; do
  # Entry names are stored in clear: skip the jars without any (fast, no JVM).
  LC_ALL=C grep -aqE '\.so' "$j" || continue
  entries=$("$JDK/bin/jar" tf "$j" | grep -E '\.so$' | grep -i linux | grep -iE "$ARCH_RE" | grep -iv musl || true)
  if [ -z "$entries" ]; then continue; fi
  # shellcheck disable=SC2086
  (cd "$WORK/jarnative" && "$JDK/bin/jar" xf "$j" $entries)
done
img_ldd "$ROOT" "$WORK/libs.txt" "$WORK/jarnative"
if grep -q 'not found' "$WORK/libs.txt"; then
  # libjvm.so and friends are found through $ORIGIN at run time; anything else is fatal.
  nf=$(grep 'not found' "$WORK/libs.txt" | awk '{print $1}' | sort -u | grep -vxE 'lib(jvm|java|jli|awt|net|nio|verify|jimage|zip|management)\.so' || true)
  [ -z "$nf" ] || die "ldd could not resolve: $(echo "$nf" | tr '\n' ' ')"
fi
# glibc's compatibility stubs, for native code loaded later (tiny).
for stub in libpthread.so.0 libdl.so.2 librt.so.1 libutil.so.1 libresolv.so.2; do
  p=$(ldconfig -p 2>/dev/null | awk -v n="$stub" '!f && $1 == n && $0 ~ /x86-64|AArch64/ {print $NF; f = 1}' || true)
  if [ -n "$p" ]; then echo "$stub => $p (stub)" >>"$WORK/libs.txt"; fi
done
img_copy_libs "$ROOT" "$WORK/libs.txt"
nlibs=$(awk '$2 == "=>" && $3 ~ /^\// {print $3}' "$WORK/libs.txt" | sort -u | wc -l)

# ---------------------------------------------------------------- smoke test
# Runs the image's own loader and java in a chroot (with a private /proc, which
# the loader needs for $ORIGIN) to catch a missing library before importing.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 \
   && unshare --mount --pid --fork --mount-proc="$ROOT/proc" true 2>/dev/null; then
  unshare --mount --pid --fork --mount-proc="$ROOT/proc" \
    chroot "$ROOT" /opt/java/bin/java -Xshare:auto -version >"$WORK/smoke.log" 2>&1 \
    || { cat "$WORK/smoke.log" >&2; die "java does not run in the new root file system"; }
fi

# ---------------------------------------------------------------- import
say "importing ($(du -sm "$ROOT" | cut -f1) MB, $nlibs shared libraries)"
img_import "$ROOT" \
  'ENV PATH=/opt/java/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' \
  'ENV JAVA_HOME=/opt/java' \
  'ENV LOG4J_CONFIGURATION_FILE=/opt/kafka/config/log4j2.properties' \
  'WORKDIR /opt/kafka' \
  'CMD ["/bin/sh"]' \
  "LABEL org.eoskit.kafka.version=$KAFKA_VERSION" \
  "LABEL org.eoskit.jdk.version=$JDK_VERSION" \
  "LABEL org.eoskit.image.inputs=$INPUTS" \
  "LABEL org.opencontainers.image.title=eoskit-kafka"
