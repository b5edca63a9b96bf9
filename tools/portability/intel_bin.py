"""Resource usage of Intel kernels, read from the binary `ocloc compile` writes.

ocloc 22.x (Debian 12) wraps a "patch token" program in its ELF file; each
kernel's patch list records what the runtime must allocate for it, which is
exactly the resource report we want. Token numbers and layouts are those of
IGC's patch_list.h (iOpenCL::PATCH_TOKEN_*), checked against `ocloc disasm`.
Newer ocloc versions emit "zebin" instead; for those parse() returns None and
the report says the metrics are unavailable rather than guessing.
"""
import struct

MAGIC = b'CTNI'  # 0x494E5443, iOpenCL::MAGIC_CL, little-endian

TOKEN_ALLOCATE_LOCAL_SURFACE = 15       # Offset, TotalInlineLocalMemorySize
TOKEN_MEDIA_VFE_STATE = 18              # ScratchSpaceOffset, PerThreadScratchSpace
TOKEN_EXECUTION_ENVIRONMENT = 23        # see EXEC_* below
TOKEN_ALLOCATE_STATELESS_PRIVATE = 38   # ..., PerThreadPrivateMemorySize (4th)
TOKEN_MEDIA_VFE_STATE_SLOT1 = 55        # second scratch slot, same layout as 18

EXEC_LARGEST_SIMD = 3    # u32 index of LargestCompiledSIMDSize
EXEC_NUM_GRF = 20        # u32 index of NumGRFRequired (128, or 256 = large GRF)


def _u32s(payload):
    return struct.unpack_from('<%dI' % (len(payload) // 4), payload)


def _kernel_metrics(patches):
    """Metrics from one kernel's patch list."""
    m = {'simd': 0, 'grf': 0, 'slm': 0, 'scratch': 0, 'private': 0}
    q = 0
    while q + 8 <= len(patches):
        token, size = struct.unpack_from('<II', patches, q)
        if size < 8:
            break  # malformed; stop rather than loop forever
        v = _u32s(patches[q + 8:q + size])
        if token == TOKEN_ALLOCATE_LOCAL_SURFACE and len(v) >= 2:
            m['slm'] = v[1]
        elif token in (TOKEN_MEDIA_VFE_STATE, TOKEN_MEDIA_VFE_STATE_SLOT1) \
                and len(v) >= 2:
            # Register spills land in scratch space.
            m['scratch'] += v[1]
        elif token == TOKEN_EXECUTION_ENVIRONMENT and len(v) > EXEC_NUM_GRF:
            m['simd'] = v[EXEC_LARGEST_SIMD]
            m['grf'] = v[EXEC_NUM_GRF]
        elif token == TOKEN_ALLOCATE_STATELESS_PRIVATE and len(v) >= 4:
            # Private arrays the compiler could not keep in registers.
            m['private'] = v[3]
        q += size
    return m


def parse(data):
    """{kernel name: metrics} from an ocloc .bin, or None if not patch tokens."""
    off = data.find(MAGIC)
    if off < 0:
        return None
    (_magic, _version, _device, _ptr, nkernels, _stepping,
     prog_patches) = struct.unpack_from('<7I', data, off)
    p = off + 28 + prog_patches
    kernels = {}
    for _ in range(nkernels):
        (_sum, _hash, name_sz, patch_sz, heap_sz, gsh_sz, dsh_sz, ssh_sz,
         _unpadded) = struct.unpack_from('<IQ7I', data, p)
        p += 40
        name = data[p:p + name_sz].split(b'\0')[0].decode('ascii', 'replace')
        p += name_sz + heap_sz + gsh_sz + dsh_sz + ssh_sz
        kernels[name] = _kernel_metrics(data[p:p + patch_sz])
        p += patch_sz
    return kernels
