#!/usr/bin/env bash
# `pip install ./runtime/python` as the README tells a user, into a fresh virtual environment,
# from a copy of the sources (nothing built before), then the installed package used from
# outside the source tree: a Loader over .npy rows and a TFRecord file, checked against what was
# written. NumPy comes from the interpreter's own packages (--system-site-packages). Where that
# interpreter has setuptools and pybind11 the build uses them, offline; otherwise pip fetches
# them from the package index, as it would for a user.
#   pip_install_test.sh SOURCE_DIR [PYTHON]
set -euo pipefail
src=$1
python=${2:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
# Only what setup.py reads, without anything an earlier in-tree build left behind.
tar -C "$src" --exclude=runtime/python/build --exclude=runtime/python/.zenith-src \
  --exclude='*.egg-info' --exclude=__pycache__ -cf - runtime common | tar -C "$work/src" -xf -
"$python" -m venv --system-site-packages "$work/venv"
offline=()
if "$python" -c "import pybind11, setuptools" 2>/dev/null; then
  offline=(--no-build-isolation --no-index)
fi
ZENITH_BUILD_JOBS=${ZENITH_BUILD_JOBS:-2} "$work/venv/bin/pip" install --quiet --no-deps \
  "${offline[@]}" "$work/src/runtime/python"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import os, struct, sys
import numpy as np
import zenith

where = os.path.dirname(zenith.__file__)
assert where.startswith(sys.prefix), f"zenith imported from {where}, not the venv {sys.prefix}"

os.makedirs("npy")
rows = np.arange(50 * 6, dtype=np.float32).reshape(50, 2, 3)
np.save("npy/a.npy", rows[:30])
np.save("npy/b.npy", rows[30:])
got = [np.array(b.tensor()) for b in zenith.Loader("npy", batch_size=8, shuffle=False)]
np.testing.assert_array_equal(np.concatenate(got), rows)

# TFRecord framing: length, masked CRC32C of the length, data, masked CRC32C of the data (the
# reader verifies both).
def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF

def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF

os.makedirs("tfr")
payloads = [("sample-%03d" % i).encode() * (1 + i % 4) for i in range(40)]
with open("tfr/a.tfrecord", "wb") as f:
    for p in payloads:
        length = struct.pack("<Q", len(p))
        f.write(length + struct.pack("<I", masked(crc32c(length))))
        f.write(p + struct.pack("<I", masked(crc32c(p))))
seen = []
for b in zenith.Loader("tfr", batch_size=16, shuffle_seed=7, epochs=1):
    seen += [bytes(a) for a in b.field(0)]
assert sorted(seen) == sorted(payloads), "the TFRecord samples differ from what was written"
print(f"installed zenith from {where}: {len(rows)} npy rows, {len(seen)} TFRecord samples")
PY
