"""SGX files the tests assemble rather than keep: an enclave as the SGX SDK's
sgx_sign leaves it, around a real SIGSTRUCT of tests/data, and the Occlum.json
and runtime_config of an Occlum instance signed with test_enclave.sig's
ISVPRODID, ISVSVN and attributes."""
import struct


def sdk_signed_enclave(sigstruct, version=(2, 4)):
    """An ELF64 shared object laid out as the SGX SDK's sgx_sign leaves an
    enclave: a .note.sgxmeta section whose note, named "sgx_metadata", holds
    a metadata block (magic, version, size, SSA frame size, MISCSELECT,
    enclave size, attributes, then the SIGSTRUCT) right after the name."""
    block = struct.pack("<QQIIIIIIQQQ", 0x86A80294635D0E4C, version[0] << 32 | version[1],
                        64 + len(sigstruct), 0, 1, 0, 0, 0, 0x40000, 4, 3) + sigstruct
    note = struct.pack("<III", 13, len(block), 1) + b"sgx_metadata\0" + block
    note += bytes(-len(note) % 4)
    names = b"\0.text\0.note.sgxmeta\0.shstrtab\0"
    text_at, note_at = 64, 80
    names_at = note_at + len(note)
    shoff = (names_at + len(names) + 7) & ~7
    body = (b"\xc3" * 16 + note + names).ljust(shoff - 64, b"\0")
    section = struct.Struct("<IIQQQQIIQQ")
    headers = (bytes(64) + section.pack(1, 1, 6, 0, text_at, 16, 0, 0, 16, 0)
               + section.pack(7, 7, 0, 0, note_at, len(note), 0, 0, 4, 0)
               + section.pack(21, 3, 0, 0, names_at, len(names), 0, 0, 1, 0))
    header = (b"\x7fELF\x02\x01\x01" + bytes(9)
              + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 4, 3))
    return header + body + headers


# Occlum.json's sizes as Occlum's template writes them; the EPC they commit
# without EDMM: user space + kernel heap + 32 threads x (kernel stack + TCS,
# SSA and TLS pages) + the libOS allowance
OCCLUM_EPC = (256 << 20) + (32 << 20) + 32 * ((1 << 20) + 4 * 4096) + (32 << 20)


def occlum_json(app_id, **metadata):
    return {
        "resource_limits": {"user_space_size": "256MB", "kernel_space_heap_size": "32MB",
                            "kernel_space_stack_size": "1MB", "max_num_of_threads": 32},
        "metadata": {"product_id": 65535, "version_number": 0, "debuggable": False,
                     **metadata},
        "entry_points": ["/bin"],
        "env": {"default": ["OCCLUM=yes", f"CLOISTER_APP_ID={app_id}"],
                "untrusted": ["CLOISTER_NODE_IP"]},
    }


def occlum_config(app_id, **metadata):
    return {"instance_dir": "/occlum_instance", "entrypoint": ["/bin/web", "--port", "8443"],
            "occlum_json": occlum_json(app_id, **metadata)}
