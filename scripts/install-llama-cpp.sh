#!/usr/bin/env bash
# Installs llama-cpp-python (with its OpenAI-compatible server) into the project's venv, built for
# any x86-64 CPU of this class rather than for this machine: a native build turns on AMX where
# the CPU advertises it, and that build segfaults in llama_decode on such machines. The wheel is
# built once per flag set and kept in its own cache folder, so a wheel that pip cached from a
# native build is never reused.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.3.36
pip=".venv/bin/pip"
flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
flags+=" -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
# AVX-512 only where the CPU has it: a build with it dies of an illegal instruction elsewhere.
if grep -qw avx512f /proc/cpuinfo; then
  flags+=" -DGGML_AVX512=ON"
else
  flags+=" -DGGML_AVX512=OFF"
fi
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/assistant/llama-cpp-python-$version-$(echo "$flags" | sha256sum | cut -c1-12)"
if ! compgen -G "$wheels/llama_cpp_python-$version-*.whl" >/dev/null; then
  echo "Building llama-cpp-python $version from source (about 4 minutes): $flags"
  mkdir -p "$wheels"
  CMAKE_ARGS="$flags" $pip wheel --quiet --disable-pip-version-check --no-cache-dir --no-deps \
    --no-binary llama-cpp-python -w "$wheels" "llama-cpp-python==$version"
fi
wheel=$(compgen -G "$wheels/llama_cpp_python-$version-*.whl" | head -n 1)
# Replace whatever build the venv has (perhaps a native one), then add the server's packages.
$pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
$pip install --quiet --disable-pip-version-check "$wheel[server]"
