"""The llama.cpp that scripts/install-llama-cpp.sh installs runs on any x86-64 CPU of its class.

A native build turns on AMX where the CPU advertises it, and segfaults in llama_decode on such
machines; the portable build must contain no AMX instruction at all (nor AVX-512 where the CPU
that built it lacks it).
"""

import importlib.util
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

AMX_MNEMONICS = ("ldtilecfg", "tileloadd", "tdpbssd", "tdpbf16ps", "tilezero")


def llama_libraries() -> list[Path]:
    spec = importlib.util.find_spec("llama_cpp")  # found without importing it
    if spec is None or spec.origin is None:
        pytest.skip("llama-cpp-python is not installed (scripts/install-llama-cpp.sh installs it)")
    libraries = sorted((Path(spec.origin).parent / "lib").glob("libggml-cpu*.so"))
    if not libraries:
        pytest.skip("this llama-cpp-python build has no separate ggml CPU library to inspect")
    return libraries


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the AMX question is an x86-64 one")
@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) is not installed")
def test_the_installed_llama_cpp_has_no_amx_instructions():
    for library in llama_libraries():
        disassembly = subprocess.run(["objdump", "-d", str(library)], capture_output=True, text=True, check=True)
        found = {mnemonic for mnemonic in AMX_MNEMONICS if f"\t{mnemonic}" in disassembly.stdout}
        assert not found, f"{library.name} uses AMX ({', '.join(sorted(found))}): it was built natively"
        if "avx512f" not in Path("/proc/cpuinfo").read_text():
            assert "zmm" not in disassembly.stdout, f"{library.name} uses AVX-512, which this CPU lacks"
